/** Turns a run's results into the markdown table (with the targets) and a bar chart in plain SVG. */

import type { ServerKind } from "../load/protocol.js";
import type { CpuFigures, IdleResult, Parameters, ServerResults } from "./scenarios.js";

export interface BenchResults {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; fileLimit: number };
  parameters: Parameters;
  servers: Partial<Record<ServerName, ServerResults>>;
  durationSeconds: number;
}

/** The peers (by the protocol they speak, Herald's Pusher endpoint among them), and Herald's scale variants. */
export type ServerName = ServerKind | "herald-workers" | "herald-receipts" | "herald-delta" | RedisVariant;

/** (g) Herald on the Redis engine: 1, 2 and 3 nodes on one Redis, and 3 nodes on a 3-master Redis Cluster. */
type RedisVariant = "herald-redis" | "herald-redis-2" | "herald-redis-3" | "herald-redis-cluster";
const REDIS_VARIANTS: Array<[RedisVariant, string]> = [
  ["herald-redis", "Redis, 1 node"],
  ["herald-redis-2", "Redis, 2 nodes"],
  ["herald-redis-3", "Redis, 3 nodes"],
  ["herald-redis-cluster", "Redis Cluster (3 masters), 3 nodes"],
];

/** The servers of the main table; the Pusher endpoint and the scale variants have tables of their own. */
const KINDS = ["herald", "bare-ws", "socketio"] as const satisfies readonly ServerKind[];
const VARIANTS: ServerName[] = ["herald", "herald-workers", "herald-redis"];
const LABEL: Record<ServerKind, string> = { herald: "Herald", "herald-pusher": "Herald (Pusher)", "herald-msgpack": "Herald (MessagePack)", "bare-ws": "bare ws", socketio: "Socket.IO" };

type Pick = (r: ServerResults) => number | undefined;

const fmt = (value: number | undefined, digits = 0): string => {
  if (value === undefined || !Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
};
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? "n/a" : `${(a / b).toFixed(2)}×`);
const cpuNote = (cpu: CpuFigures | undefined): string => (cpu ? `${cpu.serverCores.toFixed(2)} / ${cpu.loadCores.toFixed(2)}${cpu.loadBound ? " ⚠" : ""}` : "n/a");

export function renderMarkdown(results: BenchResults): string {
  const s = results.servers;
  const p = results.parameters;
  const rows: Array<[string, Pick, number]> = [];
  p.idleSizes.forEach((size, i) => {
    rows.push([`(a) idle ${size.toLocaleString("en-US")}: RSS per connection (KiB)`, (r) => r.idle[i]?.rssPerConnectionKiB, 1]);
    rows.push([`(a) idle ${size.toLocaleString("en-US")}: heap per connection (KiB)`, (r) => r.idle[i]?.heapPerConnectionKiB, 1]);
  });
  // The last step's clients connect while the first step's stay: the accept cost at scale.
  const last = p.idleSizes.length - 1;
  rows.push(
    [`(a) connecting ${((p.idleSizes[last] ?? 0) - (p.idleSizes[last - 1] ?? 0)).toLocaleString("en-US")} clients: accepts/s`, (r) => r.idle[last]?.acceptsPerSecond, 0],
    ["(a) connecting: server CPU per accepted connection (µs)", (r) => r.idle[last]?.serverCpuPerAcceptUs, 0],
  );
  rows.push(
    [`(b) fan-out ${p.fanout.subscribers.toLocaleString("en-US")} subscribers: deliveries/s`, (r) => r.fanout?.deliveriesPerSecond, 0],
    ["(b) fan-out: server CPU per delivery (µs)", (r) => r.fanout?.serverCpuPerDeliveryUs, 2],
    ["(b) fan-out: lost", (r) => r.fanout?.lost, 0],
    ["(b) fan-out: duplicates", (r) => r.fanout?.duplicates, 0],
    [`(c) latency ${p.fanout.subscribers.toLocaleString("en-US")} × ${p.latency.rate}/s: p50 (ms)`, (r) => r.latency?.p50Ms, 2],
    ["(c) latency: p99 (ms)", (r) => r.latency?.p99Ms, 2],
    ["(c) latency: p99.9 (ms)", (r) => r.latency?.p999Ms, 2],
    ["(c) latency: lost", (r) => r.latency?.lost, 0],
    [`(d) ${p.manyChannels.clients.toLocaleString("en-US")} user channels: publishes/s`, (r) => r.manyChannels?.publishesPerSecond, 0],
    ["(d) many channels: p99 publish→receive (ms)", (r) => r.manyChannels?.p99Ms, 2],
    ["(d) many channels: lost", (r) => r.manyChannels?.lost, 0],
    [`(d) batches of ${p.manyChannelsBatch?.batch ?? "n"} events per request: events/s`, (r) => r.manyChannelsBatch?.publishesPerSecond, 0],
    ["(d) batches: p99 publish→receive (ms)", (r) => r.manyChannelsBatch?.p99Ms, 2],
    ["(d) batches: lost", (r) => r.manyChannelsBatch?.lost, 0],
    [`(e) reconnect storm ${p.storm.clients.toLocaleString("en-US")}: time until all recovered (ms)`, (r) => r.storm?.recoveryMs, 0],
    ["(e) reconnect storm: events lost", (r) => r.storm?.lost, 0],
    ["(e) reconnect storm: duplicates", (r) => r.storm?.duplicates, 0],
  );
  const lines: string[] = [];
  lines.push(`Run ${results.startedAt}${results.quick ? " (quick)" : ""}: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, ulimit -n ${results.machine.fileLimit}; ${results.durationSeconds.toFixed(0)} s.`);
  lines.push("");
  lines.push("| scenario | Herald | bare ws | Socket.IO | Herald / bare ws | Herald / Socket.IO |");
  lines.push("|---|--:|--:|--:|--:|--:|");
  for (const [name, pick, digits] of rows) {
    const values = KINDS.map((kind) => (s[kind] ? pick(s[kind]!) : undefined));
    lines.push(`| ${name} | ${values.map((v) => fmt(v, digits)).join(" | ")} | ${ratio(values[0], values[1])} | ${ratio(values[0], values[2])} |`);
  }
  lines.push("");
  lines.push("CPU during each measured window, in cores (server / load generator; ⚠ = the load generator was probably the bottleneck: one load process near a full core, or both cores busy with the load side taking more):");
  lines.push("");
  lines.push("| scenario | Herald | bare ws | Socket.IO |");
  lines.push("|---|--:|--:|--:|");
  for (const [name, pick] of [["(b) fan-out", (r: ServerResults) => r.fanout?.cpu], ["(c) latency", (r: ServerResults) => r.latency?.cpu], ["(d) many channels", (r: ServerResults) => r.manyChannels?.cpu]] as const) {
    lines.push(`| ${name} | ${KINDS.map((kind) => (s[kind] ? cpuNote(pick(s[kind]!)) : "n/a")).join(" | ")} |`);
  }
  lines.push("");
  lines.push(...pusherFanout(results));
  lines.push(...receiptsFanout(results));
  lines.push(...deltaTable(results));
  lines.push(...msgpackFanout(results));
  lines.push(...targets(results));
  lines.push(...scale(results));
  lines.push(...redisAtScale(results));
  const errors = (Object.keys(s) as ServerName[]).flatMap((name) => (s[name]?.errors ?? []).map((e) => `- ${name in LABEL ? LABEL[name as ServerKind] : name}: ${e}`));
  if (errors.length > 0) lines.push("", "Problems during the run:", "", ...errors);
  return lines.join("\n") + "\n";
}

/** The fan-out through Herald's Pusher endpoint (pusher-js's protocol) against Herald's own protocol. */
/** The fan-out with receipts on (subscribers acknowledging as the SDK does) against receipts off. */
function receiptsFanout(results: BenchResults): string[] {
  const off = results.servers.herald?.fanout;
  const on = results.servers["herald-receipts"]?.fanout;
  if (!on) return [];
  const r = off ? on.deliveriesPerSecond / off.deliveriesPerSecond : undefined;
  const cpu = off ? on.serverCpuPerDeliveryUs / off.serverCpuPerDeliveryUs : undefined;
  return [
    "| Receipts on (each subscriber acknowledges every 0.5 s), same fan-out | deliveries/s | server CPU per delivery (µs) | lost | duplicates | CPU (server / load) | / receipts off |",
    "|---|--:|--:|--:|--:|--:|--:|",
    `| ${on.subscribers.toLocaleString("en-US")} acknowledging subscribers | ${fmt(on.deliveriesPerSecond)} | ${fmt(on.serverCpuPerDeliveryUs, 2)} | ${on.lost} | ${on.duplicates} | ${cpuNote(on.cpu)} | ${r === undefined || cpu === undefined ? "n/a" : `${r.toFixed(2)}× deliveries/s, ${cpu.toFixed(2)}× CPU per delivery (target ≥ 0.9×: ${r >= 0.9 ? "met" : "not met"})`} |`,
    "",
  ];
}

/** (i) The same wallet events with delta compression off and on (runner/delta.ts). */
function deltaTable(results: BenchResults): string[] {
  const d = results.servers["herald-delta"]?.delta;
  if (!d) return [];
  const bytes = d.off.bytesPerDelivery / d.on.bytesPerDelivery;
  const cpu = d.on.serverCpuPerDeliveryUs / d.off.serverCpuPerDeliveryUs;
  const row = (name: string, run: typeof d.on): string =>
    `| ${name} | ${fmt(run.bytesPerDelivery)} | ${fmt(run.serverCpuPerDeliveryUs, 2)} | ${run.lost} | ${run.duplicates} | ${cpuNote(run.cpu)} |`;
  return [
    `| (i) delta compression, ${d.on.channels.toLocaleString("en-US")} wallet channels × 1 subscriber, ${d.on.events.toLocaleString("en-US")} events of ~1.5 KB in all | bytes per delivery | server CPU per delivery (µs) | lost | duplicates | CPU (server / load) |`,
    "|---|--:|--:|--:|--:|--:|",
    row("delta off", d.off),
    row("delta on (`delta: \"fossil\"`)", d.on),
    `| on / off | ${(1 / bytes).toFixed(2)}× (${bytes.toFixed(1)}× fewer bytes; target ≥ 3×: ${bytes >= 3 ? "met" : "not met"}) | ${cpu.toFixed(2)}× (target ≤ 1.2×: ${cpu <= 1.2 ? "met" : "not met"}) | | | |`,
    "",
    `${d.roundCpuRatios?.length ?? 1} rounds of off then on, each on a fresh process; the figures sum them. Each round's CPU ratio: ${(d.roundCpuRatios ?? [cpu]).map((ratio) => `${ratio.toFixed(2)}×`).join(", ")}.`,
    "",
  ];
}

/** The fan-out to subscribers speaking MessagePack against the same fan-out in JSON: bytes and server CPU per delivery. */
function msgpackFanout(results: BenchResults): string[] {
  const json = results.servers.herald?.fanout;
  const packed = results.servers["herald-msgpack"]?.fanout;
  if (!packed) return [];
  const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? "n/a" : `${(a / b).toFixed(2)}×`);
  const bytes = (f: typeof json): string => (f?.bytesPerDelivery === undefined ? "n/a" : fmt(f.bytesPerDelivery, 1));
  return [
    "| Encoding, same fan-out | deliveries/s | bytes per delivery | server CPU per delivery (µs) | lost | duplicates | CPU (server / load) |",
    "|---|--:|--:|--:|--:|--:|--:|",
    ...(json ? [`| ${json.subscribers.toLocaleString("en-US")} JSON subscribers | ${fmt(json.deliveriesPerSecond)} | ${bytes(json)} | ${fmt(json.serverCpuPerDeliveryUs, 2)} | ${json.lost} | ${json.duplicates} | ${cpuNote(json.cpu)} |`] : []),
    `| ${packed.subscribers.toLocaleString("en-US")} MessagePack subscribers | ${fmt(packed.deliveriesPerSecond)} | ${bytes(packed)} | ${fmt(packed.serverCpuPerDeliveryUs, 2)} | ${packed.lost} | ${packed.duplicates} | ${cpuNote(packed.cpu)} |`,
    `| MessagePack / JSON | ${ratio(packed.deliveriesPerSecond, json?.deliveriesPerSecond)} | ${ratio(packed.bytesPerDelivery, json?.bytesPerDelivery)} | ${ratio(packed.serverCpuPerDeliveryUs, json?.serverCpuPerDeliveryUs)} | | | |`,
    "",
  ];
}

function pusherFanout(results: BenchResults): string[] {
  const own = results.servers.herald?.fanout;
  const pusher = results.servers["herald-pusher"]?.fanout;
  if (!pusher) return [];
  const r = own ? pusher.deliveriesPerSecond / own.deliveriesPerSecond : undefined;
  return [
    "| Pusher endpoint (pusher-js's protocol), same fan-out | deliveries/s | server CPU per delivery (µs) | lost | duplicates | CPU (server / load) | / Herald's own protocol |",
    "|---|--:|--:|--:|--:|--:|--:|",
    `| ${pusher.subscribers.toLocaleString("en-US")} Pusher subscribers | ${fmt(pusher.deliveriesPerSecond)} | ${fmt(pusher.serverCpuPerDeliveryUs, 2)} | ${pusher.lost} | ${pusher.duplicates} | ${cpuNote(pusher.cpu)} | ${r === undefined ? "n/a" : `${r.toFixed(2)}× (target ≥ 0.9×: ${r >= 0.9 ? "met" : "not met"})`} |`,
    "",
  ];
}

function targets(results: BenchResults): string[] {
  const h = results.servers.herald;
  const b = results.servers["bare-ws"];
  const io = results.servers.socketio;
  if (!h) return [];
  const last = (r: ServerResults | undefined): number | undefined => r?.idle.at(-1)?.rssPerConnectionKiB;
  const checks: Array<[string, number | undefined, number | undefined, "≥" | "≤", number]> = [
    ["fan-out deliveries/s ≥ 1.0 × bare ws", h.fanout?.deliveriesPerSecond, b?.fanout?.deliveriesPerSecond, "≥", 1.0],
    ["fan-out deliveries/s ≥ 1.5 × Socket.IO", h.fanout?.deliveriesPerSecond, io?.fanout?.deliveriesPerSecond, "≥", 1.5],
    ["server CPU per delivery ≤ bare ws", h.fanout?.serverCpuPerDeliveryUs, b?.fanout?.serverCpuPerDeliveryUs, "≤", 1.0],
    ["RSS per idle connection ≤ 1.2 × bare ws", last(h), last(b), "≤", 1.2],
    ["RSS per idle connection ≤ 0.5 × Socket.IO", last(h), last(io), "≤", 0.5],
    ["latency p99 ≤ 1.2 × bare ws", h.latency?.p99Ms, b?.latency?.p99Ms, "≤", 1.2],
  ];
  const lines = ["| target | Herald / peer | met |", "|---|--:|:-:|"];
  for (const [name, mine, theirs, op, bound] of checks) {
    const r = mine !== undefined && theirs !== undefined && theirs !== 0 ? mine / theirs : undefined;
    const met = r === undefined ? "n/a" : (op === "≥" ? r >= bound : r <= bound) ? "yes" : "no";
    lines.push(`| ${name} | ${r === undefined ? "n/a" : r.toFixed(2) + "×"} | ${met} |`);
  }
  return lines;
}

/** µs of Redis CPU (every Redis process) per event published in a window, where the server runs on Redis. */
function redisCpuPerPublish(cpu: CpuFigures | undefined, publishes: number | undefined): number | undefined {
  return cpu?.redisCpuMs === undefined || !publishes ? undefined : (cpu.redisCpuMs * 1e3) / publishes;
}

/** Herald with two workers and on the Redis engine, each read against one process on the memory engine. */
function scale(results: BenchResults): string[] {
  const s = results.servers;
  if (!s["herald-workers"] && !s["herald-redis"]) return [];
  const p = results.parameters;
  const rows: Array<[string, Pick, number]> = [
    [`(b) fan-out ${p.fanout.subscribers.toLocaleString("en-US")} subscribers: deliveries/s`, (r) => r.fanout?.deliveriesPerSecond, 0],
    ["(b) fan-out: server CPU per delivery (µs)", (r) => r.fanout?.serverCpuPerDeliveryUs, 2],
    ["(b) fan-out: Redis CPU per publish (µs)", (r) => redisCpuPerPublish(r.fanout?.cpu, r.fanout?.events), 0],
    [`(c) latency ${p.fanout.subscribers.toLocaleString("en-US")} × ${p.latency.rate}/s: p50 (ms)`, (r) => r.latency?.p50Ms, 2],
    ["(c) latency: p99 (ms)", (r) => r.latency?.p99Ms, 2],
    [`(d) ${p.manyChannels.clients.toLocaleString("en-US")} user channels: publishes/s`, (r) => r.manyChannels?.publishesPerSecond, 0],
    ["(d) many channels: p99 publish→receive (ms)", (r) => r.manyChannels?.p99Ms, 2],
    ["(d) many channels: Redis CPU per publish (µs)", (r) => redisCpuPerPublish(r.manyChannels?.cpu, r.manyChannels?.published), 1],
    ["lost (b, c, d)", (r) => (r.fanout?.lost ?? 0) + (r.latency?.lost ?? 0) + (r.manyChannels?.lost ?? 0), 0],
  ];
  // (h): the one process's figures are its (a) idle ones, at the largest size one process may hold here.
  const h = p.connections.length - 1;
  const connections = (r: ServerResults): IdleResult | undefined => (r.connections ? r.connections[h] : r.idle.at(-1));
  rows.push(
    [`(h) idle connections held (2 workers: ${(p.connections[h] ?? 0).toLocaleString("en-US")})`, (r) => connections(r)?.connections, 0],
    ["(h) RSS per idle connection (KiB; all processes)", (r) => connections(r)?.rssPerConnectionKiB, 1],
    ["(h) accepts/s while connecting", (r) => connections(r)?.acceptsPerSecond, 0],
    ["(h) server CPU per accepted connection (µs)", (r) => connections(r)?.serverCpuPerAcceptUs, 0],
  );
  const lines = ["", "Herald at scale: two workers (`herald serve --workers 2`, CPU of all its processes) and one node on the Redis engine (its own redis-server), against one process on the memory engine:", ""];
  lines.push("| scenario | 1 process, memory | 2 workers | Redis, 1 node | 2 workers / 1 | Redis / memory |");
  lines.push("|---|--:|--:|--:|--:|--:|");
  for (const [name, pick, digits] of rows) {
    const values = VARIANTS.map((variant) => (s[variant] ? pick(s[variant]!) : undefined));
    lines.push(`| ${name} | ${values.map((v) => fmt(v, digits)).join(" | ")} | ${ratio(values[1], values[0])} | ${ratio(values[2], values[0])} |`);
  }
  return lines;
}

/**
 * (g) the Redis engine at scale: each Redis variant's figures with their ratio to one node on the
 * memory engine in the same run. Server CPU sums every Herald node, Redis CPU every Redis process.
 */
function redisAtScale(results: BenchResults): string[] {
  const s = results.servers;
  const variants = REDIS_VARIANTS.filter(([name]) => s[name]);
  if (variants.length === 0) return [];
  const p = results.parameters;
  const perDelivery = (cpu: CpuFigures | undefined, delivered: number | undefined): number | undefined => (cpu === undefined || !delivered ? undefined : (cpu.serverCpuMs * 1e3) / delivered);
  const latencyPublishes = (r: ServerResults): number | undefined => (r.latency && r.latency.subscribers > 0 ? r.latency.expected / r.latency.subscribers : undefined);
  const rows: Array<[string, Pick, number]> = [
    [`(b) fan-out ${p.fanout.subscribers.toLocaleString("en-US")} subscribers: deliveries/s`, (r) => r.fanout?.deliveriesPerSecond, 0],
    ["(b) fan-out: server CPU per delivery (µs, all nodes)", (r) => r.fanout?.serverCpuPerDeliveryUs, 2],
    ["(b) fan-out: Redis CPU per publish (µs, all Redis processes)", (r) => redisCpuPerPublish(r.fanout?.cpu, r.fanout?.events), 0],
    [`(c) latency ${p.fanout.subscribers.toLocaleString("en-US")} × ${p.latency.rate}/s: p50 (ms)`, (r) => r.latency?.p50Ms, 2],
    ["(c) latency: p99 (ms)", (r) => r.latency?.p99Ms, 2],
    ["(c) latency: server CPU per delivery (µs, all nodes)", (r) => perDelivery(r.latency?.cpu, r.latency?.delivered), 2],
    ["(c) latency: Redis CPU per publish (µs)", (r) => redisCpuPerPublish(r.latency?.cpu, latencyPublishes(r)), 0],
    [`(d) ${p.manyChannels.clients.toLocaleString("en-US")} user channels: publishes/s`, (r) => r.manyChannels?.publishesPerSecond, 0],
    ["(d) many channels: p50 publish→receive (ms)", (r) => r.manyChannels?.p50Ms, 2],
    ["(d) many channels: p99 publish→receive (ms)", (r) => r.manyChannels?.p99Ms, 2],
    ["(d) many channels: server CPU per delivery (µs, all nodes)", (r) => perDelivery(r.manyChannels?.cpu, r.manyChannels?.delivered), 1],
    ["(d) many channels: Redis CPU per publish (µs)", (r) => redisCpuPerPublish(r.manyChannels?.cpu, r.manyChannels?.published), 1],
    ["Redis idle CPU, subtracted from the Redis figures (cores)", (r) => r.fanout?.cpu.redisIdleCores, 4],
    ["lost (b, c, d)", (r) => (r.fanout?.lost ?? 0) + (r.latency?.lost ?? 0) + (r.manyChannels?.lost ?? 0), 0],
    ["(b) duplicates", (r) => r.fanout?.duplicates, 0],
  ];
  const memory = s.herald;
  const lines = [
    "",
    "(g) the Redis engine at scale: Herald nodes (one process each) on one redis-server, and on a Redis Cluster of three masters, clients spread over the nodes and publishes sent to each in turn; in brackets, the ratio to one node on the memory engine:",
    "",
    `| scenario | memory, 1 node | ${variants.map(([, label]) => label).join(" | ")} |`,
    `|---|--:|${variants.map(() => "--:").join("|")}|`,
  ];
  for (const [name, pick, digits] of rows) {
    const base = memory ? pick(memory) : undefined;
    const cells = variants.map(([variant]) => {
      const value = pick(s[variant]!);
      const r = ratio(value, base);
      return r === "n/a" || name.startsWith("lost") || name.endsWith("duplicates") ? fmt(value, digits) : `${fmt(value, digits)} (${r})`;
    });
    lines.push(`| ${name} | ${fmt(base, digits)} | ${cells.join(" | ")} |`);
  }
  lines.push("", `| CPU in cores (Herald / load / Redis beyond idle) | memory, 1 node | ${variants.map(([, label]) => label).join(" | ")} |`, `|---|--:|${variants.map(() => "--:").join("|")}|`);
  const cores = (cpu: CpuFigures | undefined): string => (cpu ? `${cpu.serverCores.toFixed(2)} / ${cpu.loadCores.toFixed(2)} / ${cpu.redisCpuMs === undefined ? "–" : (cpu.redisCpuMs / cpu.wallMs).toFixed(2)}${cpu.loadBound ? " ⚠" : ""}` : "n/a");
  for (const [name, pick] of [["(b) fan-out", (r: ServerResults) => r.fanout?.cpu], ["(c) latency", (r: ServerResults) => r.latency?.cpu], ["(d) many channels", (r: ServerResults) => r.manyChannels?.cpu]] as const) {
    lines.push(`| ${name} | ${memory ? cores(pick(memory)) : "n/a"} | ${variants.map(([variant]) => cores(pick(s[variant]!))).join(" | ")} |`);
  }
  return lines;
}

/** Four groups of three bars, each group scaled to its own largest value. */
export function renderSvg(results: BenchResults): string {
  const groups: Array<[string, Pick, number]> = [
    ["fan-out deliveries/s (higher is better)", (r) => r.fanout?.deliveriesPerSecond, 0],
    ["RSS per idle connection, KiB (lower is better)", (r) => r.idle.at(-1)?.rssPerConnectionKiB, 1],
    ["latency p99, ms (lower is better)", (r) => r.latency?.p99Ms, 2],
    ["many channels publishes/s (higher is better)", (r) => r.manyChannels?.publishesPerSecond, 0],
  ];
  const colors: Record<(typeof KINDS)[number], string> = { herald: "#2f6fde", "bare-ws": "#8a8a8a", socketio: "#e08a2f" };
  const width = 720;
  const groupHeight = 110;
  const barHeight = 22;
  const labelWidth = 90;
  const barMax = width - labelWidth - 130;
  const parts: string[] = [];
  groups.forEach(([title, pick, digits], g) => {
    const y0 = 20 + g * groupHeight;
    const values = KINDS.map((kind) => (results.servers[kind] ? pick(results.servers[kind]!) : undefined));
    const max = Math.max(...values.map((v) => (v !== undefined && Number.isFinite(v) ? v : 0)), 1e-9);
    parts.push(`<text x="10" y="${y0}" font-weight="bold">${escape(title)}</text>`);
    KINDS.forEach((kind, i) => {
      const y = y0 + 10 + i * (barHeight + 4);
      const value = values[i];
      const w = value !== undefined && Number.isFinite(value) ? Math.max(1, (value / max) * barMax) : 0;
      parts.push(`<text x="10" y="${y + 16}">${LABEL[kind]}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colors[kind]}"/>`);
      parts.push(`<text x="${labelWidth + w + 6}" y="${y + 16}">${fmt(value, digits)}</text>`);
    });
  });
  const height = 20 + groups.length * groupHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
