/**
 * (i) Delta compression: realistic wallet payloads (about 1.5 KB of balance and positions, a few
 * fields changed per event; load/wallet.ts), one subscriber per channel, published in turn over
 * the channels. Run twice on the same Herald with the same events: on channels of a namespace
 * without deltas (`plain:`), and on a `delta: true` namespace (`wallet:`) whose subscribers ask
 * for `delta: "fossil"`. Reports WebSocket payload bytes and server CPU per delivery. With one
 * subscriber per channel every delta is computed for one delivery: the least favourable case for
 * CPU (a channel with more subscribers shares each delta among them).
 */

import type { Load } from "./load.js";
import { cpuFigures, stats, type CpuFigures, type ServerUnderTest } from "./scenarios.js";

export interface DeltaParameters {
  channels: number;
  events: number;
  concurrency: number;
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
}

export async function deltas(load: Load, server: ServerUnderTest, p: DeltaParameters, stallMs: number, errors: string[]): Promise<DeltaResult> {
  const off = await run(load, server, p, stallMs, errors, "plain:{i}", false);
  const on = await run(load, server, p, stallMs, errors, "wallet:{i}", true);
  return { off, on };
}

async function run(load: Load, server: ServerUnderTest, p: DeltaParameters, stallMs: number, errors: string[], channel: string, delta: boolean): Promise<DeltaRun> {
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
