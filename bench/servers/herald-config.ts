/** The configuration every benchmarked Herald runs with, whatever its engine or process count. */

export const BENCH_CONFIG = {
  logLevel: "silent",
  // Heartbeats would add frames the load generator has to sort out; none of the scenarios lasts that long.
  pingInterval: "10m",
  idleTimeout: "10m",
  // The reconnect storm resumes from up to a few thousand events back.
  history: { size: 10_000, ttl: "10m" },
} as const;
