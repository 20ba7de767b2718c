/**
 * Test support: a Redis server of the test's own, started with `redis-server` on a free port in a
 * temporary directory, so fault tests can stop, kill and restart it without touching the shared
 * Redis on 6379 that other tests (and other test runs) use. With `cluster: true` it is a Redis
 * Cluster node (see redis-cluster.ts, which joins several into one cluster).
 *
 * Without `redis-server` on the PATH the tests that need it are skipped loudly, except in CI
 * (CI=true), where a missing binary is a failure.
 *
 * Every server still running when the test process exits is killed then, so a failed or
 * interrupted test leaves no redis-server behind.
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface RedisServerOptions {
  /** "none" keeps nothing on disk (a restart loses every key); "aof" writes each command to an append-only file. Default "none". */
  persistence?: "none" | "aof";
  /** Start it as a Redis Cluster node (its cluster bus on a second free port). Default false. */
  cluster?: boolean;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Resolves to a `skip` value for describe(): false when `redis-server` can be started. */
export function redisServerSkip(): false | string {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.status === 0) return false;
  const reason = `skipped: redis-server is not on the PATH (${probe.error?.message ?? probe.stderr.trim()})`;
  if (process.env.CI === "true") throw new Error(`${reason}; CI=true, so this fails`);
  console.warn(reason);
  return reason;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port from the OS");
  return address.port;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly persistence: "none" | "aof",
    /** The cluster bus port, kept across restarts; undefined for a standalone server. */
    private readonly busPort: number | undefined,
  ) {}

  /** Starts a new server on a free port and waits until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const busPort = options.cluster ? await freePort() : undefined;
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "herald-redis-")), options.persistence ?? "none", busPort);
    await server.spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops the server with a signal (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** Starts it again on the same port and directory (with "aof", the keys written before are back). */
  async restart(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await this.stop(signal);
    await this.spawn();
  }

  /** Freezes the process (SIGSTOP): connections stay open and commands go unanswered, as on a stalled server. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  /** Lets a paused server run again (SIGCONT); it answers what it was sent meanwhile. */
  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Stops it for good and removes its directory. */
  async close(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async spawn(): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--logfile", "", "--daemonize", "no"];
    args.push("--appendonly", this.persistence === "aof" ? "yes" : "no");
    if (this.persistence === "aof") args.push("--appendfsync", "always");
    if (this.busPort !== undefined) {
      // nodes.conf in the server's own directory keeps its identity and slots across a restart.
      // A short node timeout lets the others mark a dead master failed quickly; without full
      // coverage required, the masters still up serve their own slots meanwhile.
      args.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", String(this.busPort));
      args.push("--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no");
    }
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.child !== child) throw new Error(`redis-server on port ${this.port} exited at start:\n${output}`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not listening yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${this.port} did not answer PING within 10 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
