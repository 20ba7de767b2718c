/**
 * What every benchmarked server process shares: it tells the runner its port over IPC, and answers
 * `stats` requests with its own CPU time and memory, so each figure belongs to one process alone.
 * Memory is read after a full GC (children run with --expose-gc) so that garbage does not count;
 * the CPU of that GC is not counted either.
 */

import type { IncomingMessage } from "node:http";

export interface ServerStats {
  readonly rss: number;
  readonly heapUsed: number;
  /** process.cpuUsage() in microseconds. */
  readonly cpuUser: number;
  readonly cpuSystem: number;
  /** The CPU of every Redis process (INFO cpu) less their idle rate, where the server under test runs on Redis. */
  readonly redisCpuMicros?: number;
  /** That idle rate, in cores: Redis's CPU with nothing asked of it, sampled before any client. */
  readonly redisIdleCores?: number;
  /** Bytes of WebSocket frames sent to clients (Herald's `herald_bytes_sent_total`), where the server counts them. */
  readonly bytesSent?: number;
}

/**
 * CPU spent in the full GCs that `collect` forces. It is left out of the CPU reported: the GC taken
 * for the memory figure at the end of a window would otherwise count as work of that window, once
 * per process, which weighs on servers of several processes and on short windows.
 */
const statsGc = { user: 0, system: 0 };

/** This process's own figures. */
export function collect(): ServerStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    const before = process.cpuUsage();
    gc();
    gc();
    const spent = process.cpuUsage(before);
    statsGc.user += spent.user;
    statsGc.system += spent.system;
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: memory.rss, heapUsed: memory.heapUsed, cpuUser: cpu.user - statsGc.user, cpuSystem: cpu.system - statsGc.system };
}

/** This process's own figures with the WebSocket bytes a Herald listening on `port` has sent (its /metrics). */
export async function collectWithBytesSent(port: number): Promise<ServerStats> {
  // CPU first: the scrape that follows then falls outside a window that this reading ends.
  const own = collect();
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  // A counter not yet incremented is not listed: nothing sent.
  const bytesSent = Number(/^herald_bytes_sent_total\{transport="websocket"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  return { ...own, bytesSent };
}

/**
 * Announces the port (or every node's port, for a server of several nodes; clients are spread over
 * them) and serves stats requests until the runner disconnects.
 */
export function reportToRunner(port: number | readonly number[], close: () => Promise<void> | void, stats: () => ServerStats | Promise<ServerStats> = collect): void {
  if (!process.send) throw new Error("run this server through bench/run.ts (it needs an IPC channel)");
  process.on("message", (message: { id: number; request: { cmd: string } }) => {
    if (message.request.cmd === "stats") void Promise.resolve(stats()).then((result) => process.send!({ id: message.id, result }));
    if (message.request.cmd === "stop") void Promise.resolve(close()).finally(() => process.exit(0));
  });
  // The runner gone means the benchmark is over, whatever happened to it.
  process.on("disconnect", () => process.exit(0));
  const ports = typeof port === "number" ? [port] : port;
  process.send({ ready: true, port: ports[0], ports });
}

/** Reads a small JSON request body (the peers' publish endpoints). */
export function readJson(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString()));
      } catch (error) {
        reject(error as Error);
      }
    });
    request.on("error", reject);
  });
}

/** The publish body every server accepts, as Herald's POST /api/publish does: one event, or a batch in `events`. */
export interface PublishBody {
  channel: string;
  type: string;
  data: unknown;
  events?: Array<{ channel: string; type: string; data: unknown }>;
}

/** The events of a publish body, in order. */
export function eventsOf(body: PublishBody): Array<{ channel: string; type: string; data: unknown }> {
  return body.events ?? [body];
}
