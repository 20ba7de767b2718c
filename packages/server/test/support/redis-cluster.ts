/**
 * Test support: a real Redis Cluster of the test's own, three masters (and optionally a replica
 * each) on free local ports, made with `redis-server --cluster-enabled yes` and joined by
 * `redis-cli --cluster create`. Every server writes its commands to an append-only file (fsync
 * always) unless started with `persistence: "none"`, so one killed and started again comes back
 * with its slots and every event it acknowledged. The benchmark (bench/servers/redis-nodes.ts)
 * starts one too, without persistence.
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
  private constructor(
    /** Every server, masters and replicas; which is which can change at a failover. */
    readonly servers: readonly RedisServer[],
    private readonly replicas: number,
  ) {}

  /**
   * Starts three masters (and `replicas` replicas of each), joins them into one cluster and waits
   * until every server says it is ok and every master has its replicas.
   */
  static async start(options: { replicas?: number; persistence?: "none" | "aof" } = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0;
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < 3 * (1 + replicas); i++) servers.push(await RedisServer.start({ cluster: true, persistence: options.persistence ?? "aof" }));
      const cluster = new RedisCluster(servers, replicas);
      await run("redis-cli", ["--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`), "--cluster-replicas", String(replicas), "--cluster-yes"], { timeout: 30_000 });
      await cluster.settled();
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((s) => s.close()));
      throw error;
    }
  }

  /** The seed URLs a client is given. */
  get seeds(): string[] {
    return this.servers.map((server) => server.url);
  }

  /** The servers that hold slots now, in slot order. */
  async masters(): Promise<RedisServer[]> {
    return (await this.slotRanges()).map((range) => this.server(range[2][1]));
  }

  /** The master that holds a key's slot. */
  async masterOf(key: string): Promise<RedisServer> {
    const probe = this.anyRunning();
    try {
      const slot = (await probe.call("CLUSTER", "KEYSLOT", key)) as number;
      const range = (await this.slotRanges()).find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master holds slot ${slot} of ${key}`);
      return this.server(range[2][1]);
    } finally {
      probe.disconnect();
    }
  }

  /**
   * Waits until every running server reports cluster_state:ok, sees every other running server
   * connected, and every slot range has its master and replicas.
   */
  async settled(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.servers.filter((s) => s.running).map((server) => this.stateOf(server)));
      if (states.every((state) => state === "ok")) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not settle within ${timeoutMs} ms: ${states.join("; ")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits until every replica has everything its master acknowledged (replication is asynchronous). */
  async replicated(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = await Promise.all(
        (await this.masters()).map(async (master) => {
          const redis = new Redis(master.url, { maxRetriesPerRequest: 1 });
          try {
            const info = await redis.info("replication");
            const offset = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
            const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((match) => Number(match[1]));
            return replicas.length < this.replicas || replicas.some((replica) => replica < offset);
          } finally {
            redis.disconnect();
          }
        }),
      );
      if (!behind.some(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`the replicas did not catch up within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.close()));
  }

  private async stateOf(server: RedisServer): Promise<string> {
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      const info = (await redis.call("CLUSTER", "INFO")) as string;
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown";
      if (state !== "ok") return `${server.port}: ${state}`;
      const nodes = ((await redis.call("CLUSTER", "NODES")) as string).split("\n").filter(Boolean);
      const running = new Set(this.servers.filter((s) => s.running).map((s) => s.port));
      const seen = nodes.filter((line) => running.has(Number(/:(\d+)@/.exec(line)?.[1])) && !/fail/.test(line.split(" ")[2] ?? "") && line.includes("connected"));
      if (seen.length !== running.size) return `${server.port}: sees ${seen.length} of ${running.size} running servers connected`;
      const ranges = (await redis.call("CLUSTER", "SLOTS")) as unknown[][];
      if (ranges.some((range) => range.length < 3 + this.replicas)) return `${server.port}: a master still misses its replicas`;
      return "ok";
    } catch (error) {
      return `${server.port}: ${(error as Error).message}`;
    } finally {
      redis.disconnect();
    }
  }

  private async slotRanges(): Promise<Array<[number, number, [string, number]]>> {
    const probe = this.anyRunning();
    try {
      return (await probe.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    } finally {
      probe.disconnect();
    }
  }

  private server(port: number): RedisServer {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`no server of this cluster listens on ${port}`);
    return server;
  }

  private anyRunning(): Redis {
    const server = this.servers.find((s) => s.running);
    if (!server) throw new Error("no server of the cluster is running");
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    return redis;
  }
}
