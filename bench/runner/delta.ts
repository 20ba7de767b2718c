/**
 * (i) Delta compression: realistic wallet payloads (about 1.5 KB of balance and positions, a few
 * fields changed per event; load/wallet.ts), one subscriber per channel, published in turn over
 * the channels. Run twice with the same events, each time on a fresh Herald: on channels of a
 * namespace without deltas (`plain:`), and on a `delta: true` namespace (`wallet:`) whose
 * subscribers ask for `delta: "fossil"`. Reports WebSocket payload bytes and server CPU per delivery. With one
 * subscriber per channel every delta is computed for one delivery: the least favourable case for
 * CPU (a channel with more subscribers shares each delta among them).
 */

import type { Load } from "./load.js";
import { cpuFigures, stats, type CpuFigures, type ServerUnderTest } from "./scenarios.js";

export interface DeltaParameters {
  channels: number;
  events: number;
  concurrency: number;
  /** Off and on alternate this many times, each on a fresh process; the figures sum the rounds. */
  rounds: number;
}

export interface DeltaRun {
  channels: number;
  events: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** WebSocket message payload bytes per event received. */
  bytesPerDelivery: number;
  serverCpuPerDeliveryUs: number;
  cpu: CpuFigures;
}

export interface DeltaResult {
  off: DeltaRun;
  on: DeltaRun;
  /** Each round's on / off server CPU per delivery: how far the machine's noise moves the ratio. */
  roundCpuRatios: number[];
}

/** Sums rounds of one half: events, deliveries, bytes and CPU add up; per-delivery figures are recomputed. */
export function sumRounds(runs: DeltaRun[]): DeltaRun {
  const sum = (pick: (run: DeltaRun) => number): number => runs.reduce((total, run) => total + pick(run), 0);
  const delivered = sum((run) => run.delivered);
  const wallMs = sum((run) => run.cpu.wallMs);
  const serverCpuMs = sum((run) => run.cpu.serverCpuMs);
  const loadCpuMs = sum((run) => run.cpu.loadCpuMs);
  return {
    channels: runs[0]!.channels,
    events: sum((run) => run.events),
    delivered,
    lost: sum((run) => run.lost),
    duplicates: sum((run) => run.duplicates),
    bytesPerDelivery: sum((run) => run.bytesPerDelivery * run.delivered) / Math.max(1, delivered),
    serverCpuPerDeliveryUs: (serverCpuMs * 1e3) / Math.max(1, delivered),
    cpu: {
      wallMs,
      serverCpuMs,
      loadCpuMs,
      serverCores: serverCpuMs / wallMs,
      loadCores: loadCpuMs / wallMs,
      busiestWorkerCores: Math.max(...runs.map((run) => run.cpu.busiestWorkerCores)),
      loadBound: runs.some((run) => run.cpu.loadBound),
    },
  };
}

/**
 * One half of the scenario: deltas off (`plain:` channels) or on (`wallet:` channels, subscribers
 * asking for `delta: "fossil"`). Each half runs on a Herald process of its own (run.ts), so the
 * history the first half leaves in memory does not weigh on the second half's garbage collection.
 */
export async function deltaRun(load: Load, server: ServerUnderTest, p: DeltaParameters, stallMs: number, errors: string[], delta: boolean): Promise<DeltaRun> {
  const channel = delta ? "wallet:{i}" : "plain:{i}";
  const connected = await load.connect(server.kind, server.urls, p.channels, channel, "offsets", false, 0, delta);
  if (connected.failed > 0) errors.push(`delta ${delta ? "on" : "off"}: ${connected.failed} of ${p.channels} connections failed (${connected.firstError})`);
  // One full event per channel first: the measured events then each follow their channel's previous one.
  const warm = await load.publish({ cmd: "wallets", urls: server.urls, channel, channels: p.channels, count: p.channels, concurrency: p.concurrency });
  await load.settle(warm.published, stallMs);
  await load.reset("offsets");
  const serverBefore = await stats(server);
  const loadBefore = await load.totals();
  const published = await load.publish({ cmd: "wallets", urls: server.urls, channel, channels: p.channels, count: p.events, concurrency: p.concurrency });
  const totals = await load.settle(published.published, stallMs);
  const serverAfter = await stats(server);
  const cpu = cpuFigures(totals.lastAt - published.startAt, serverBefore, serverAfter, loadBefore, totals, published.cpuMicros / 1e3);
  await load.closeClients();
  const delivered = totals.received;
  return {
    channels: p.channels,
    events: published.published,
    delivered,
    lost: Math.max(totals.lost, published.published - delivered),
    duplicates: totals.duplicates,
    bytesPerDelivery: totals.bytes / Math.max(1, delivered),
    serverCpuPerDeliveryUs: (cpu.serverCpuMs * 1e3) / Math.max(1, delivered),
    cpu,
  };
}
