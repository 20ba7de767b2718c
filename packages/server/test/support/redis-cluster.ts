/**
 * Test support: a real Redis Cluster of the test's own, three masters (no replicas) on free local
 * ports, made with `redis-server --cluster-enabled yes` and joined by `redis-cli --cluster create`.
 * Every master writes its commands to an append-only file (fsync always), so one killed and
 * started again comes back with its slots and every event it acknowledged.
 *
 * Without `redis-server` or `redis-cli` (Debian: redis-server, redis-tools) the tests that need it
 * are skipped loudly, except in CI (CI=true), where a missing binary is a failure.
 */

import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { RedisServer, redisServerSkip } from "./redis-server.js";

const run = promisify(execFile);

/** Resolves to a `skip` value for describe(): false when a cluster can be started here. */
export function redisClusterSkip(): false | string {
  const server = redisServerSkip();
  if (server) return server;
  const probe = spawnSync("redis-cli", ["--version"], { encoding: "utf8" });
  if (probe.status === 0) return false;
  const reason = `skipped: redis-cli is not on the PATH (Debian package redis-tools; ${probe.error?.message ?? probe.stderr.trim()})`;
  if (process.env.CI === "true") throw new Error(`${reason}; CI=true, so this fails`);
  console.warn(reason);
  return reason;
}

export class RedisCluster {
  private constructor(readonly masters: readonly RedisServer[]) {}

  /** Starts the masters, joins them into one cluster and waits until every one says it is ok. */
  static async start(masters = 3): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < masters; i++) servers.push(await RedisServer.start({ cluster: true, persistence: "aof" }));
      const cluster = new RedisCluster(servers);
      await run("redis-cli", ["--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 });
      await cluster.settled();
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((s) => s.close()));
      throw error;
    }
  }

  /** The seed URLs a client is given. */
  get seeds(): string[] {
    return this.masters.map((server) => server.url);
  }

  /** The master that holds a key's slot. */
  async masterOf(key: string): Promise<RedisServer> {
    const probe = await this.anyRunning();
    try {
      const slot = (await probe.call("CLUSTER", "KEYSLOT", key)) as number;
      const ranges = (await probe.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const master = this.masters.find((server) => server.port === range?.[2][1]);
      if (!master) throw new Error(`no master holds slot ${slot} of ${key}`);
      return master;
    } finally {
      probe.disconnect();
    }
  }

  /** Waits until every running master reports cluster_state:ok and sees every other master connected. */
  async settled(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      const states = await Promise.all(this.masters.filter((s) => s.running).map((server) => this.stateOf(server)));
      if (states.every((state) => state === "ok")) return;
      last = states.join("; ");
      if (Date.now() > deadline) throw new Error(`the cluster did not settle within ${timeoutMs} ms: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.masters.map((server) => server.close()));
  }

  private async stateOf(server: RedisServer): Promise<string> {
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      const info = (await redis.call("CLUSTER", "INFO")) as string;
      const nodes = (await redis.call("CLUSTER", "NODES")) as string;
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown";
      const masters = nodes.split("\n").filter((line) => line.includes("master"));
      const healthy = masters.filter((line) => !/fail/.test(line.split(" ")[2] ?? "") && line.includes("connected"));
      if (state !== "ok" || healthy.length !== this.masters.length) return `${server.port}: ${state}, ${healthy.length} of ${this.masters.length} masters connected`;
      return "ok";
    } catch (error) {
      return `${server.port}: ${(error as Error).message}`;
    } finally {
      redis.disconnect();
    }
  }

  private async anyRunning(): Promise<Redis> {
    const server = this.masters.find((s) => s.running);
    if (!server) throw new Error("no master of the cluster is running");
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    return redis;
  }
}
