/**
 * Herald on the Redis engine: `herald-redis.ts [nodes] [--cluster]` runs `nodes` Herald nodes
 * (default 1), each its own process (servers/herald-node.ts) with its own port, on Redis the bench
 * starts for itself on free ports (never the machine's shared one): one `redis-server`, or with
 * `--cluster` a Redis Cluster of three masters made as the tests make theirs. The runner spreads
 * clients over the nodes' ports and publishes to each in turn.
 *
 * Stats are summed: CPU and memory over every Herald node, and the CPU of every Redis process
 * (`INFO cpu`, less its idle rate), so the runner can report server CPU per delivery and Redis CPU
 * per publish. Every process started here is stopped at the end, and also when starting fails half
 * way.
 */

import { Redis } from "ioredis";
import { RedisCluster } from "../../packages/server/test/support/redis-cluster.js";
import { RedisServer } from "../../packages/server/test/support/redis-server.js";
import { Child } from "../runner/child-process.js";
import { reportToRunner, type ServerStats } from "./child.js";

const nodeCount = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 1);
const cluster = process.argv.includes("--cluster");

// The cluster's servers are all masters (no replicas), and each is read for its CPU.
const redis = cluster ? await RedisCluster.start({ persistence: "none" }) : await RedisServer.start();
const redisServers = redis instanceof RedisCluster ? redis.servers : [redis];
const engine = redis instanceof RedisCluster ? { type: "redis", redisCluster: redis.seeds } : { type: "redis", redisUrl: redis.url };
const info = redisServers.map((server) => new Redis(server.url));
const nodes: Child[] = [];
const ports: number[] = [];

async function close(): Promise<void> {
  await Promise.all(nodes.map((node) => node.stop()));
  for (const connection of info) connection.disconnect();
  await redis.close();
}

try {
  const started = await Promise.allSettled(Array.from({ length: nodeCount }, (_, i) => Child.start(`herald node ${i + 1}`, "servers/herald-node.ts", [], [JSON.stringify(engine)])));
  for (const result of started) {
    if (result.status === "rejected") continue;
    nodes.push(result.value.child);
    ports.push(result.value.ready.port as number);
  }
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
} catch (error) {
  await close();
  throw error;
}

async function redisCpuMicros(connection: Redis): Promise<number> {
  const text = await connection.info("cpu");
  const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? NaN);
  return (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
}

const allRedisCpuMicros = async (): Promise<number> => (await Promise.all(info.map(redisCpuMicros))).reduce((total, micros) => total + micros, 0);

/**
 * Redis spends CPU with no client connected (its timers, the nodes' periodic commands; on a
 * cluster, the bus's heartbeats too): about 1.4 ms a second for one server and 5 for three masters
 * here, as much as 40 publishes cost in a window of several seconds. Sampled once, with the nodes
 * connected and no client, and subtracted from every reading, so that Redis CPU per publish is
 * what the publishes cost.
 */
const IDLE_SAMPLE_MS = 2_000;
const idleFrom = { micros: await allRedisCpuMicros(), at: performance.now() };
await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
const redisIdleCores = ((await allRedisCpuMicros()) - idleFrom.micros) / 1e3 / (performance.now() - idleFrom.at);

async function stats(): Promise<ServerStats> {
  const [perNode, redisMicros] = await Promise.all([Promise.all(nodes.map((node) => node.request<ServerStats>({ cmd: "stats" }))), allRedisCpuMicros()]);
  const sum = (pick: (s: ServerStats) => number): number => perNode.reduce((total, s) => total + pick(s), 0);
  return {
    rss: sum((s) => s.rss),
    heapUsed: sum((s) => s.heapUsed),
    cpuUser: sum((s) => s.cpuUser),
    cpuSystem: sum((s) => s.cpuSystem),
    redisCpuMicros: redisMicros - redisIdleCores * (performance.now() - idleFrom.at) * 1e3,
    redisIdleCores,
  };
}

reportToRunner(ports, close, stats);
