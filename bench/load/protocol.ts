/** Messages between the runner and its load processes (IPC), and the pieces both sides compute. */

/**
 * `herald-pusher`: Herald through its Pusher endpoint (pusher-js's protocol), fan-out only.
 * `herald-msgpack`: Herald's protocol in MessagePack (`?format=msgpack`), fan-out only.
 */
export type ServerKind = "herald" | "herald-pusher" | "herald-msgpack" | "bare-ws" | "socketio";

/** The Pusher app of servers/herald-pusher.ts, and the Herald namespace of its public channels. */
export const PUSHER_BENCH_KEY = "bench-key";
export const PUSHER_BENCH_NAMESPACE = "pusher-bench";

/** The channel to publish to for subscribers of `channel` on a server of this kind. */
export function publishChannel(kind: ServerKind, channel: string): string {
  return kind === "herald-pusher" ? `${PUSHER_BENCH_NAMESPACE}:${channel}` : channel;
}

/**
 * What a worker does with each event it receives:
 * - count: count it (the fan-out scenario, where parsing would only slow the load generator down);
 * - latency: also parse it and record publish→receive time;
 * - offsets: also check that offsets arrive once each, in order (the reconnect storm).
 */
export type ReceiveMode = "count" | "latency" | "offsets";

/**
 * `urls`: every node of the server under test. Client i connects to urls[i % urls.length] (i counts
 * over all workers), and the publisher posts to them in turn, so a multi-node server gets an even
 * share of clients and publishes on each node.
 */
export type WorkerRequest =
  | { cmd: "connect"; kind: ServerKind; urls: string[]; first: number; count: number; channel: string; mode: ReceiveMode; append?: boolean; delta?: boolean }
  | { cmd: "reset"; mode: ReceiveMode }
  | { cmd: "report"; finalOffset?: number }
  | { cmd: "storm" }
  | { cmd: "close" };

export interface ConnectResult {
  connected: number;
  failed: number;
  firstError?: string;
}

export interface WorkerReport {
  clients: number;
  received: number;
  minPerClient: number;
  maxPerClient: number;
  /** hrtime milliseconds (same clock in every process on the machine). */
  firstAt: number;
  lastAt: number;
  histogram: number[];
  lost: number;
  duplicates: number;
  closedByServer: number;
  cpuMicros: number;
  /** WebSocket message payload bytes of the events received (since the last reset). */
  bytes: number;
}

export interface StormResult {
  /** ms from the drop until the last client had its `subscribed` (recovered) frame. */
  recoveryMs: number;
  recovered: number;
  notRecovered: number;
  failed: number;
}

export type PublisherRequest =
  | { cmd: "burst"; urls: string[]; channel: string; count: number; concurrency?: number }
  | { cmd: "rate"; urls: string[]; channel: string; users?: number; rate: number; durationMs: number; concurrency: number }
  | { cmd: "saturate"; urls: string[]; users: number; durationMs: number; concurrency: number; batch?: number }
  /** `count` events over `channels` channels (`channel` with `{i}`) in turn, each a Wallet payload (wallet.ts). */
  | { cmd: "wallets"; urls: string[]; channel: string; channels: number; count: number; concurrency: number };

export interface PublisherResult {
  published: number;
  failed: number;
  startAt: number;
  endAt: number;
  /** Highest offset answered per channel, for the single-channel modes. */
  lastOffset: number;
  cpuMicros: number;
}

/** Milliseconds on the monotonic clock, which all processes of one machine share. */
export function nowMs(): number {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e3 + nanos / 1e6;
}

/**
 * Latency histogram with ~1% relative precision from 1 µs to ~16 min: bucket i holds values in
 * [1µs·1.01^i, 1µs·1.01^(i+1)). Workers sum their histograms; percentiles come from the sum.
 */
export const HISTOGRAM_BUCKETS = 2_100;
const GROWTH = Math.log(1.01);

export function bucketOf(ms: number): number {
  if (ms <= 0.001) return 0;
  return Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(Math.log(ms / 0.001) / GROWTH));
}

export function percentile(histogram: readonly number[], p: number): number | undefined {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return 0.001 * Math.exp((i + 0.5) * GROWTH);
  }
  return undefined;
}
