/** Durations in config: a number of milliseconds, or a string such as "250ms", "25s", "5m", "1h". */

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? "ms"]!);
}

/** Sizes in config: a number of bytes, or a string such as "64KiB", "1MiB", "512B". */
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1_000, kib: 1_024, mb: 1_000_000, mib: 1_048_576 };

export function parseSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]i?[bB]|[bB])?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * SIZE_UNITS[(match[2] ?? "b").toLowerCase()]!);
}
