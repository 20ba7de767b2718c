/**
 * Realistic balance-and-positions payloads for the delta scenario: a JSON object of about 1.5 KB
 * per channel, of which each event changes a few fields (balance, available, one position's price
 * and P&L, the time), as a wallet or trading backend publishes them.
 */

export class Wallet {
  private step = 0;
  private readonly state: {
    account: string;
    currency: string;
    balance: number;
    available: number;
    updatedAt: string;
    positions: Array<{ symbol: string; quantity: number; price: number; pnl: number; side: string }>;
    limits: { daily: number; monthly: number; withdrawals: number };
  };

  constructor(readonly channel: string) {
    this.state = {
      account: `acc-${channel}`,
      currency: "EUR",
      balance: 15_234.5,
      available: 14_000,
      updatedAt: new Date(Date.UTC(2026, 11, 4)).toISOString(),
      positions: Array.from({ length: 18 }, (_, i) => ({ symbol: `SYM${i}USDT`, quantity: 10 + i, price: 100 + i * 3.25, pnl: 0, side: i % 2 === 0 ? "long" : "short" })),
      limits: { daily: 5_000, monthly: 50_000, withdrawals: 3 },
    };
  }

  /** The next event's data: a few fields changed; `t` and `seq` as every benchmark event carries. */
  next(t: number, seq: number): Record<string, unknown> {
    const s = this.state;
    this.step += 1;
    const position = s.positions[this.step % s.positions.length]!;
    position.price = Math.round((position.price + ((this.step * 7919) % 200) / 100 - 1) * 100) / 100;
    position.pnl = Math.round((position.price - 100) * position.quantity * 100) / 100;
    s.balance = Math.round((s.balance + ((this.step * 104_729) % 1_000) / 100 - 5) * 100) / 100;
    s.available = Math.round((s.balance * 0.92) * 100) / 100;
    s.updatedAt = new Date(Date.UTC(2026, 11, 4) + this.step * 1_000).toISOString();
    return { t, seq, ...s };
  }
}
