/**
 * The five scenarios, each run against one server at a time with the same parameters.
 * Every figure is taken from the processes themselves: server CPU and memory from the server's
 * own process.cpuUsage/memoryUsage, load CPU from the load processes, deliveries and latencies
 * from what the clients received.
 */

import type { ServerKind } from "../load/protocol.js";
import { nowMs, percentile, publishChannel } from "../load/protocol.js";
import type { Child } from "./child-process.js";
import type { Load, LoadTotals } from "./load.js";
import type { DeltaParameters, DeltaResult } from "./delta.js";

export interface Parameters {
  workers: number;
  idleSizes: number[];
  /** (h) Idle connections held by `herald serve --workers 2`: past what one process may open here. */
  connections: number[];
  /** `concurrency` publishes in flight at once, back to back. */
  fanout: { subscribers: number; events: number; concurrency: number };
  /** Runs on the fan-out's subscribers. */
  latency: { rate: number; durationMs: number };
  /** `batch`: events per publish request (the publish API's `events` form); 1 when absent. */
  manyChannels: { clients: number; durationMs: number; concurrency: number; batch?: number };
  /** (d) with the publish API's batch form: `batch` events per request. */
  manyChannelsBatch: { clients: number; durationMs: number; concurrency: number; batch: number };
  storm: { clients: number; rate: number; beforeMs: number };
  /** (i) Delta compression on wallet payloads (delta.ts). */
  delta: DeltaParameters;
  /** How long without progress before what is missing counts as lost. */
  stallMs: number;
}

export interface ServerUnderTest {
  kind: ServerKind;
  /** Every node's base URL: clients are spread over them and publishes go to each in turn. */
  urls: string[];
  child: Child;
}

interface ServerStats {
  rss: number;
  heapUsed: number;
  cpuUser: number;
  cpuSystem: number;
  redisCpuMicros?: number;
  redisIdleCores?: number;
  bytesSent?: number;
}

/** CPU of the server and of the load generator over one measured window. */
export interface CpuFigures {
  wallMs: number;
  serverCpuMs: number;
  loadCpuMs: number;
  /** Cores' worth: CPU time over wall time. */
  serverCores: number;
  loadCores: number;
  busiestWorkerCores: number;
  /** The load side, not the server, probably set the pace (a worker near a full core, or both cores busy). */
  loadBound: boolean;
  /** The CPU of every Redis process over the window beyond their idle rate, where the server runs on Redis. */
  redisCpuMs?: number;
  /** That idle rate (cores), subtracted from redisCpuMs. */
  redisIdleCores?: number;
}

export interface IdleResult {
  connections: number;
  failed: number;
  rssPerConnectionKiB: number;
  heapPerConnectionKiB: number;
  /** Connections opened (and subscribed) per second while this step's clients connected as fast as they could. */
  acceptsPerSecond: number;
  /** Server CPU over that window ÷ connections opened: upgrade, auth, session, greeting and subscribe. */
  serverCpuPerAcceptUs: number;
}
export interface FanoutResult { subscribers: number; events: number; expected: number; delivered: number; lost: number; duplicates: number; deliveriesPerSecond: number; serverCpuPerDeliveryUs: number; cpu: CpuFigures; /** WebSocket bytes the server sent per delivery, where it counts them. */ bytesPerDelivery?: number }
export interface LatencyResult { subscribers: number; rate: number; expected: number; delivered: number; lost: number; p50Ms: number; p99Ms: number; p999Ms: number; cpu: CpuFigures }
export interface ManyChannelsResult { clients: number; published: number; publishesPerSecond: number; delivered: number; lost: number; p50Ms: number; p99Ms: number; cpu: CpuFigures }
export interface StormResultFigures { clients: number; recoveryMs: number; recovered: number; notRecovered: number; failed: number; published: number; lost: number; duplicates: number }

export interface ServerResults {
  idle: IdleResult[];
  /** (h) herald-workers only. */
  connections?: IdleResult[];
  fanout?: FanoutResult;
  latency?: LatencyResult;
  manyChannels?: ManyChannelsResult;
  /** (d) again with the events sent in batches (`parameters.manyChannelsBatch`). */
  manyChannelsBatch?: ManyChannelsResult;
  /** Herald only: the peers have no recovery. */
  storm?: StormResultFigures;
  /** herald-delta only: the same wallet events with delta compression off and on. */
  delta?: DeltaResult;
  errors: string[];
}

export const stats = (server: ServerUnderTest): Promise<ServerStats> => server.child.request<ServerStats>({ cmd: "stats" });
const cpuMs = (s: ServerStats): number => (s.cpuUser + s.cpuSystem) / 1e3;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function cpuFigures(wallMs: number, serverBefore: ServerStats, serverAfter: ServerStats, loadBefore: LoadTotals, loadAfter: LoadTotals, publisherCpuMs: number): CpuFigures {
  const serverCpuMs = cpuMs(serverAfter) - cpuMs(serverBefore);
  const workerMs = loadAfter.workerCpuMicros.map((after, i) => (after - (loadBefore.workerCpuMicros[i] ?? 0)) / 1e3);
  const loadCpuMs = workerMs.reduce((sum, ms) => sum + ms, 0) + publisherCpuMs;
  const busiestWorkerCores = Math.max(...workerMs) / wallMs;
  const serverCores = serverCpuMs / wallMs;
  const loadCores = loadCpuMs / wallMs;
  const redisCpuMs = serverAfter.redisCpuMicros !== undefined && serverBefore.redisCpuMicros !== undefined ? (serverAfter.redisCpuMicros - serverBefore.redisCpuMicros) / 1e3 : undefined;
  return {
    wallMs,
    serverCpuMs,
    loadCpuMs,
    serverCores,
    loadCores,
    busiestWorkerCores,
    loadBound: busiestWorkerCores > 0.85 || (serverCores + loadCores > 1.8 && loadCores > serverCores),
    ...(redisCpuMs === undefined ? {} : { redisCpuMs }),
    ...(serverAfter.redisIdleCores === undefined ? {} : { redisIdleCores: serverAfter.redisIdleCores }),
  };
}

export async function connectAll(load: Load, server: ServerUnderTest, count: number, channel: string, mode: "count" | "latency" | "offsets", errors: string[], append = false, offset = 0): Promise<number> {
  const result = await load.connect(server.kind, server.urls, count, channel, mode, append, offset);
  if (result.failed > 0) errors.push(`${result.failed} of ${count} connections failed (${result.firstError})`);
  return result.failed;
}

/** (a) Idle connections: memory each one costs the server, measured after a full GC. */
export async function idle(load: Load, server: ServerUnderTest, sizes: number[], errors: string[]): Promise<IdleResult[]> {
  const results: IdleResult[] = [];
  const before = await stats(server);
  let open = 0;
  let failed = 0;
  // Connections are added up to each size, so every figure is measured from the same empty baseline.
  for (const size of sizes) {
    const added = size - open;
    const acceptBefore = await stats(server);
    const startedAt = nowMs();
    const failedNow = await connectAll(load, server, added, "idle", "count", errors, open > 0, open);
    const wallMs = nowMs() - startedAt;
    const acceptAfter = await stats(server);
    failed += failedNow;
    open = size;
    await pause(500);
    const after = await stats(server);
    const connections = size - failed;
    const accepted = Math.max(1, added - failedNow);
    results.push({
      connections: size,
      failed,
      rssPerConnectionKiB: (after.rss - before.rss) / connections / 1024,
      heapPerConnectionKiB: (after.heapUsed - before.heapUsed) / connections / 1024,
      acceptsPerSecond: (accepted / wallMs) * 1e3,
      serverCpuPerAcceptUs: ((cpuMs(acceptAfter) - cpuMs(acceptBefore)) * 1e3) / accepted,
    });
  }
  await load.closeClients();
  return results;
}

/**
 * (b) Fan-out: one channel, many subscribers, events published back to back; deliveries per second.
 * Each client checks offsets: a gap (or a shortfall at the end) counts as lost, an offset seen
 * again as a duplicate, so one duplicate cannot hide one loss as a plain count would. Pusher
 * clients (no offsets) count sequence numbers seen twice as duplicates, and the shortfall of
 * distinct events as lost.
 */
export async function fanout(load: Load, server: ServerUnderTest, p: Parameters["fanout"], stallMs: number, errors: string[]): Promise<FanoutResult> {
  const failed = await connectAll(load, server, p.subscribers, "fanout", "offsets", errors);
  const subscribers = p.subscribers - failed;
  // Warm up (JIT, buffers) with a few events, then measure from a clean count.
  const channel = publishChannel(server.kind, "fanout");
  const warm = await load.publish({ cmd: "burst", urls: server.urls, channel, count: 3 });
  await load.settle(subscribers * warm.published, stallMs);
  await load.reset("offsets");
  const serverBefore = await stats(server);
  const loadBefore = await load.totals();
  const published = await load.publish({ cmd: "burst", urls: server.urls, channel, count: p.events, concurrency: p.concurrency });
  const expected = subscribers * published.published;
  const totals = await load.settle(expected, stallMs, published.lastOffset);
  const serverAfter = await stats(server);
  const wallMs = totals.lastAt - published.startAt;
  const cpu = cpuFigures(wallMs, serverBefore, serverAfter, loadBefore, totals, published.cpuMicros / 1e3);
  return {
    subscribers,
    events: published.published,
    expected,
    delivered: totals.received,
    // Pusher frames have no offsets: what did not arrive once is lost.
    lost: server.kind === "herald-pusher" ? Math.max(0, expected - (totals.received - totals.duplicates)) : totals.lost,
    duplicates: totals.duplicates,
    deliveriesPerSecond: (totals.received / wallMs) * 1e3,
    serverCpuPerDeliveryUs: (cpu.serverCpuMs * 1e3) / Math.max(1, totals.received),
    cpu,
    ...(serverBefore.bytesSent === undefined || serverAfter.bytesSent === undefined ? {} : { bytesPerDelivery: (serverAfter.bytesSent - serverBefore.bytesSent) / Math.max(1, totals.received) }),
  };
}

/** (c) Latency at a fixed rate below saturation, on the fan-out's connections. */
export async function latency(load: Load, server: ServerUnderTest, p: Parameters["latency"], stallMs: number, subscribers: number): Promise<LatencyResult> {
  await load.reset("latency");
  const loadBefore = await load.totals();
  const serverBefore = await stats(server);
  const start = nowMs();
  const published = await load.publish({ cmd: "rate", urls: server.urls, channel: "fanout", rate: p.rate, durationMs: p.durationMs, concurrency: 4 });
  const expected = subscribers * published.published;
  const totals = await load.settle(expected, stallMs);
  const serverAfter = await stats(server);
  const cpu = cpuFigures(Math.max(totals.lastAt, published.endAt) - start, serverBefore, serverAfter, loadBefore, totals, published.cpuMicros / 1e3);
  await load.closeClients();
  return {
    subscribers,
    rate: p.rate,
    expected,
    delivered: totals.received,
    lost: expected - totals.received,
    p50Ms: percentile(totals.histogram, 50) ?? NaN,
    p99Ms: percentile(totals.histogram, 99) ?? NaN,
    p999Ms: percentile(totals.histogram, 99.9) ?? NaN,
    cpu,
  };
}

/** (d) Many channels: each client on its own user:<i>, publishes to random users as fast as the server answers (in batches with `p.batch`). */
export async function manyChannels(load: Load, server: ServerUnderTest, p: Parameters["manyChannels"], stallMs: number, errors: string[]): Promise<ManyChannelsResult> {
  const failed = await connectAll(load, server, p.clients, "user:{i}", "latency", errors);
  const loadBefore = await load.totals();
  const serverBefore = await stats(server);
  const published = await load.publish({ cmd: "saturate", urls: server.urls, users: p.clients, durationMs: p.durationMs, concurrency: p.concurrency, ...(p.batch === undefined ? {} : { batch: p.batch }) });
  // Events to a client whose connection failed cannot arrive; count only what could.
  const expected = Math.round(published.published * ((p.clients - failed) / p.clients));
  const totals = await load.settle(expected, stallMs);
  const serverAfter = await stats(server);
  const wallMs = published.endAt - published.startAt;
  const cpu = cpuFigures(Math.max(totals.lastAt, published.endAt) - published.startAt, serverBefore, serverAfter, loadBefore, totals, published.cpuMicros / 1e3);
  await load.closeClients();
  return {
    clients: p.clients,
    published: published.published,
    publishesPerSecond: (published.published / wallMs) * 1e3,
    delivered: totals.received,
    lost: failed > 0 ? Math.max(0, expected - totals.received) : published.published - totals.received,
    p50Ms: percentile(totals.histogram, 50) ?? NaN,
    p99Ms: percentile(totals.histogram, 99) ?? NaN,
    cpu,
  };
}

/** (e) Reconnect storm (Herald): every client drops at once while events flow, and resumes with `since`. */
export async function storm(load: Load, server: ServerUnderTest, p: Parameters["storm"], stallMs: number, errors: string[]): Promise<StormResultFigures> {
  await connectAll(load, server, p.clients, "storm", "offsets", errors);
  // Events keep flowing before, during and after the storm; the run lasts until everyone is back.
  let stormDone = false;
  const publishing = (async () => {
    let published = 0;
    let lastOffset = 0;
    while (!stormDone) {
      const slice = await load.publish({ cmd: "rate", urls: server.urls, channel: "storm", rate: p.rate, durationMs: 500, concurrency: 1 });
      published += slice.published;
      lastOffset = Math.max(lastOffset, slice.lastOffset);
    }
    return { published, lastOffset };
  })();
  await pause(p.beforeMs);
  const result = await load.storm();
  await pause(500);
  stormDone = true;
  const { published, lastOffset } = await publishing;
  if (result.failed > 0) errors.push(`${result.failed} clients could not resubscribe after the storm`);
  // Every client must end at the channel's last offset, having seen each offset once.
  const totals = await settleOffsets(load, lastOffset, stallMs);
  await load.closeClients();
  return { clients: p.clients, recoveryMs: result.recoveryMs, recovered: result.recovered, notRecovered: result.notRecovered, failed: result.failed, published, lost: totals.lost, duplicates: totals.duplicates };
}

async function settleOffsets(load: Load, finalOffset: number, stallMs: number): Promise<LoadTotals> {
  let totals = await load.totals(finalOffset);
  let lastProgress = Date.now();
  let lastLost = totals.lost;
  while (totals.lost > 0 && Date.now() - lastProgress < stallMs) {
    await pause(100);
    totals = await load.totals(finalOffset);
    if (totals.lost !== lastLost) {
      lastLost = totals.lost;
      lastProgress = Date.now();
    }
  }
  return totals;
}
