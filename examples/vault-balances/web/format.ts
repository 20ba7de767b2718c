/** USDT amounts travel in base units (6 decimals), as in the seed. */
export function formatUSDT(units: number): string {
  return `${(units / 1_000_000).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} USDT`;
}
