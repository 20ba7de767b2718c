/**
 * `npm run bench [-- --quick] [-- --profile] [-- --only herald,bare-ws]`: runs every scenario
 * against Herald, a bare `ws` broadcast server and Socket.IO, one server after the other with the
 * same parameters, and the fan-out against Herald's Pusher endpoint (`herald-pusher`), with receipts
 * on (`herald-receipts`) and to MessagePack subscribers (`herald-msgpack`), then writes
 * bench/results/<timestamp>.json, latest.md and latest.svg.
 *
 * --quick uses small numbers (seconds, not minutes) and fails when a scenario did not run or lost
 * an event; it never judges a time. --profile writes a V8 CPU profile of the Herald process to
 * bench/results/profiles/. --results <dir> writes somewhere else (the test uses a temporary dir).
 */

import { execSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerKind } from "./load/protocol.js";
import { Child } from "./runner/child-process.js";
import { Load } from "./runner/load.js";
import { renderMarkdown, renderSvg, type BenchResults, type ServerName } from "./runner/report.js";
import { fanout, idle, latency, manyChannels, storm, type Parameters, type ServerResults, type ServerUnderTest } from "./runner/scenarios.js";
import { deltaRun, sumRounds, type DeltaRun } from "./runner/delta.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const profile = args.includes("--profile");
const option = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const benchRoot = fileURLToPath(new URL(".", import.meta.url));
const resultsDir = option("--results") ?? join(benchRoot, "results", quick ? "quick" : "");
const only = option("--only")?.split(",");

const FULL: Parameters = {
  workers: 2,
  idleSizes: [1_000, 10_000],
  // ulimit -n is 20,000 per process on the reference machine: 36,000 spreads to 18,000 per server
  // worker and per load process.
  connections: [10_000, 36_000],
  fanout: { subscribers: 10_000, events: 40, concurrency: 4 },
  // 10,000 subscribers × 1 event/s = 10,000 deliveries/s: about half of what this 2-core machine
  // saturates at (server and load generator share the cores), so queues stay short.
  latency: { rate: 1, durationMs: 10_000 },
  manyChannels: { clients: 10_000, durationMs: 10_000, concurrency: 16 },
  manyChannelsBatch: { clients: 10_000, durationMs: 10_000, concurrency: 4, batch: 50 },
  // One channel for all: 1 event/s keeps the fan-out below saturation while 10,000 clients reconnect.
  storm: { clients: 10_000, rate: 1, beforeMs: 2_000 },
  delta: { channels: 1_000, events: 20_000, concurrency: 8, rounds: 3 },
  stallMs: 5_000,
};

const QUICK: Parameters = {
  workers: 2,
  idleSizes: [200],
  connections: [400],
  fanout: { subscribers: 200, events: 20, concurrency: 4 },
  latency: { rate: 20, durationMs: 1_500 },
  manyChannels: { clients: 200, durationMs: 1_500, concurrency: 8 },
  manyChannelsBatch: { clients: 200, durationMs: 1_500, concurrency: 4, batch: 10 },
  storm: { clients: 200, rate: 20, beforeMs: 500 },
  delta: { channels: 50, events: 500, concurrency: 4, rounds: 1 },
  stallMs: 3_000,
};

/**
 * The peers run every scenario. The scale variants speak Herald's protocol and run the fan-out,
 * latency and many-channels scenarios only, to be read against one Herald process on the memory
 * engine (docs/performance.md, "Herald at scale").
 */
const SERVERS: Array<{ name: ServerName; kind: ServerKind; file: string; args?: string[]; variant?: true }> = [
  { name: "herald", kind: "herald", file: "servers/herald.ts" },
  // Herald's Pusher endpoint, fan-out only: its deliveries/s against Herald's own protocol.
  { name: "herald-pusher", kind: "herald-pusher", file: "servers/herald-pusher.ts", variant: true },
  // Receipts on, fan-out only: its deliveries/s against receipts off (`herald`).
  { name: "herald-receipts", kind: "herald", file: "servers/herald-receipts.ts", variant: true },
  // Delta compression off and on, wallet payloads only (runner/delta.ts).
  { name: "herald-delta", kind: "herald", file: "servers/herald-delta.ts", variant: true },
  // MessagePack subscribers, fan-out only: bytes and CPU per delivery against JSON (`herald`).
  { name: "herald-msgpack", kind: "herald-msgpack", file: "servers/herald-msgpack.ts", variant: true },
  { name: "bare-ws", kind: "bare-ws", file: "servers/bare-ws.ts" },
  { name: "socketio", kind: "socketio", file: "servers/socketio.ts" },
  { name: "herald-workers", kind: "herald", file: "servers/herald-workers.ts", variant: true },
  // (g) the Redis engine at scale: 1, 2 and 3 nodes on one Redis, and 3 nodes on a 3-master Redis Cluster.
  { name: "herald-redis", kind: "herald", file: "servers/herald-redis.ts", variant: true },
  { name: "herald-redis-2", kind: "herald", file: "servers/herald-redis.ts", args: ["2"], variant: true },
  { name: "herald-redis-3", kind: "herald", file: "servers/herald-redis.ts", args: ["3"], variant: true },
  { name: "herald-redis-cluster", kind: "herald", file: "servers/herald-redis.ts", args: ["3", "--cluster"], variant: true },
];

/** Variants that run the fan-out alone. */
const FANOUT_ONLY = new Set<ServerName>(["herald-pusher", "herald-receipts", "herald-msgpack"]);

function fileLimit(): number {
  try {
    return Number(execSync("ulimit -n", { shell: "/bin/sh" }).toString().trim());
  } catch {
    return NaN;
  }
}

const params = quick ? QUICK : FULL;
const limit = fileLimit();
// Each connection is one descriptor in one server process and one in one load process; (h) spreads over two of each.
const needed = Math.max(...params.idleSizes, params.fanout.subscribers, params.manyChannels.clients, params.storm.clients, ...params.connections.map((n) => Math.ceil(n / Math.min(2, params.workers))));
if (!(limit > needed + 100)) {
  console.error(`ulimit -n is ${limit}: too low for ${needed} connections in one process; raise it (ulimit -n ${needed * 2}) and run again.`);
  process.exit(1);
}

const log = (line: string): void => console.log(`[bench] ${line}`);
const started = Date.now();
const results: BenchResults = {
  startedAt: new Date(started).toISOString(),
  quick,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, fileLimit: limit },
  parameters: params,
  servers: {},
  durationSeconds: 0,
};

// The servers run Herald's compiled build (see runner/child-process.ts): bring it up to date first.
log("building @herald/protocol and @herald/server (tsc -b)");
execSync("npx tsc -b packages/protocol packages/server", { cwd: join(benchRoot, ".."), stdio: "inherit" });

/** Runs one scenario of a server, logs its time, and keeps its failure in the server's errors instead of ending the run. */
function stepFor(name: ServerName, out: ServerResults): (scenario: string, run: () => Promise<void>) => Promise<void> {
  return async (scenario, run) => {
    const t = Date.now();
    try {
      await run();
      log(`${name} ${scenario}: ${((Date.now() - t) / 1e3).toFixed(1)}s`);
    } catch (error) {
      out.errors.push(`${scenario}: ${(error as Error).message}`);
      log(`${name} ${scenario} failed: ${(error as Error).message}`);
      await load.closeClients().catch(() => undefined);
    }
  };
}

const load = await Load.start(params.workers);
try {
  for (const { name, kind, file, args: serverArgs, variant } of SERVERS) {
    if (only && !only.includes(name)) continue;
    const execArgv = profile && (name === "herald" || name === "herald-delta") ? ["--cpu-prof", `--cpu-prof-dir=${join(benchRoot, "results", "profiles")}`] : [];
    const out: ServerResults = { idle: [], errors: [] };
    results.servers[name] = out;
    if (name === "herald-delta") {
      const step = stepFor(name, out);
      // Each half of each round on a fresh process (runner/delta.ts).
      const halves: { off: DeltaRun[]; on: DeltaRun[] } = { off: [], on: [] };
      for (let round = 1; round <= params.delta.rounds; round++) {
        for (const side of ["off", "on"] as const) {
          const fresh = await Child.start(name, file, execArgv, serverArgs).catch((error: Error) => {
            out.errors.push(`start: ${error.message}`);
          });
          if (!fresh) continue;
          const server: ServerUnderTest = { kind, urls: (fresh.ready.ports as number[]).map((port) => `http://127.0.0.1:${port}`), child: fresh.child };
          await step(`delta ${side}, round ${round}`, async () => {
            halves[side].push(await deltaRun(load, server, params.delta, params.stallMs, out.errors, side === "on"));
          });
          await load.closeClients();
          await fresh.child.stop();
        }
      }
      if (halves.off.length > 0 && halves.off.length === halves.on.length) {
        const roundCpuRatios = halves.on.map((on, i) => on.serverCpuPerDeliveryUs / halves.off[i]!.serverCpuPerDeliveryUs);
        out.delta = { off: sumRounds(halves.off), on: sumRounds(halves.on), roundCpuRatios };
      }
      continue;
    }
    // A server that cannot start (a Redis Cluster without redis-cli, say) is a problem of the run, not its end.
    const started = await Child.start(name, file, execArgv, serverArgs).catch((error: Error) => {
      out.errors.push(`start: ${error.message}`);
      log(`${name} did not start: ${error.message}`);
    });
    if (!started) continue;
    const { child, ready } = started;
    const server: ServerUnderTest = { kind, urls: (ready.ports as number[]).map((port) => `http://127.0.0.1:${port}`), child };
    const step = stepFor(name, out);
    if (FANOUT_ONLY.has(name)) {
      await step("fan-out", async () => {
        out.fanout = await fanout(load, server, params.fanout, params.stallMs, out.errors);
      });
      await load.closeClients();
      await child.stop();
      continue;
    }
    if (!variant) {
      await step("idle", async () => {
        out.idle = await idle(load, server, params.idleSizes, out.errors);
      });
    }
    if (name === "herald-workers") {
      await step("connections", async () => {
        out.connections = await idle(load, server, params.connections, out.errors);
      });
    }
    await step("fan-out", async () => {
      out.fanout = await fanout(load, server, params.fanout, params.stallMs, out.errors);
    });
    await step("latency", async () => {
      out.latency = await latency(load, server, params.latency, params.stallMs, out.fanout?.subscribers ?? params.fanout.subscribers);
    });
    await step("many channels", async () => {
      out.manyChannels = await manyChannels(load, server, params.manyChannels, params.stallMs, out.errors);
    });
    if (!variant) {
      await step("many channels, batches", async () => {
        out.manyChannelsBatch = await manyChannels(load, server, params.manyChannelsBatch, params.stallMs, out.errors);
      });
    }
    if (name === "herald") {
      await step("reconnect storm", async () => {
        out.storm = await storm(load, server, params.storm, params.stallMs, out.errors);
      });
    }
    await child.stop();
  }
} finally {
  await load.stop();
}
results.durationSeconds = (Date.now() - started) / 1e3;

const stamp = results.startedAt.replace(/[:.]/g, "-");
mkdirSync(resultsDir, { recursive: true });
const markdown = renderMarkdown(results);
writeFileSync(join(resultsDir, `${stamp}.json`), JSON.stringify(results, null, 2) + "\n");
writeFileSync(join(resultsDir, "latest.md"), markdown);
writeFileSync(join(resultsDir, "latest.svg"), renderSvg(results));
console.log("\n" + markdown);
log(`done in ${results.durationSeconds.toFixed(0)}s; results in ${resultsDir}`);

if (quick) {
  // The quick run is a correctness check: every scenario ran, nothing was lost. Times are not judged.
  const problems: string[] = [];
  for (const { name: kind, variant } of SERVERS) {
    if (only && !only.includes(kind)) continue;
    const r = results.servers[kind];
    if (!r) {
      problems.push(`${kind}: did not run`);
      continue;
    }
    problems.push(...r.errors.map((e) => `${kind}: ${e}`));
    if (kind === "herald-delta") {
      if (!r.delta) problems.push(`${kind}: delta scenario did not run`);
      else {
        for (const [side, run] of [["off", r.delta.off], ["on", r.delta.on]] as const) {
          if (run.lost !== 0 || run.delivered === 0 || run.duplicates !== 0) problems.push(`${kind}: delta ${side} delivered ${run.delivered}, lost ${run.lost}, duplicates ${run.duplicates}`);
        }
        if (!(r.delta.on.bytesPerDelivery < r.delta.off.bytesPerDelivery)) problems.push(`${kind}: delta on sent ${r.delta.on.bytesPerDelivery.toFixed(0)} B per delivery, not fewer than off (${r.delta.off.bytesPerDelivery.toFixed(0)} B)`);
      }
      continue;
    }
    if (FANOUT_ONLY.has(kind)) {
      if (!r.fanout) problems.push(`${kind}: fan-out did not run`);
      else if (r.fanout.lost !== 0 || r.fanout.delivered === 0 || r.fanout.duplicates !== 0) problems.push(`${kind}: fan-out delivered ${r.fanout.delivered}, lost ${r.fanout.lost}, duplicates ${r.fanout.duplicates}`);
      continue;
    }
    if (!variant && r.idle.length !== params.idleSizes.length) problems.push(`${kind}: idle did not run`);
    const checked = [["fan-out", r.fanout], ["latency", r.latency], ["many channels", r.manyChannels], ...(variant ? [] : [["many channels, batches", r.manyChannelsBatch] as const])] as const;
    for (const [name, figures] of checked) {
      if (!figures) problems.push(`${kind}: ${name} did not run`);
      else if (figures.lost !== 0 || figures.delivered === 0) problems.push(`${kind}: ${name} delivered ${figures.delivered}, lost ${figures.lost}`);
    }
    if (r.fanout && r.fanout.duplicates !== 0) problems.push(`${kind}: fan-out delivered ${r.fanout.duplicates} duplicates`);
    if (kind === "herald") {
      if (!r.storm) problems.push("herald: reconnect storm did not run");
      else if (r.storm.lost !== 0 || r.storm.duplicates !== 0 || r.storm.recovered !== r.storm.clients) {
        problems.push(`herald: reconnect storm recovered ${r.storm.recovered}/${r.storm.clients}, lost ${r.storm.lost}, duplicates ${r.storm.duplicates}`);
      }
    }
  }
  if (problems.length > 0) {
    console.error("quick bench failed:\n  " + problems.join("\n  "));
    process.exit(1);
  }
  log("quick: every scenario ran and nothing was lost");
}
