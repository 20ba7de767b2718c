/**
 * The primary process of `herald serve --workers N`: forks N workers that share the port through
 * `node:cluster` (round-robin: the primary accepts and hands each connection to the next worker),
 * and makes them act as one hub.
 *
 * - With the memory engine it holds the one MemoryEngine and serves it to every worker over IPC
 *   (EngineHost), so streams, offsets, presence and idempotency records are shared; with Redis each
 *   worker is an ordinary node.
 * - It relays surveys between workers (`workers.survey`), so /api/status and /metrics on any worker
 *   show every worker's figures; only live workers are asked.
 * - A worker that dies is replaced (a warning in the log); its clients reconnect to the others and
 *   recover with `since`. A replacement that dies before it listens is retried with backoff.
 * - SIGTERM or SIGINT drains every worker (each closes its clients with 1001) and exits 0 once all
 *   have exited; a second signal kills them and exits at once.
 */

import cluster, { type Worker } from "node:cluster";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { backoffDelay, DEFAULT_BACKOFF } from "@herald/protocol";
import { generateAdminToken } from "../auth/admin-guard.js";
import type { HeraldConfig } from "../config/schema.js";
import { EngineHost } from "../engine/engine-host.js";
import { MemoryEngine } from "../engine/memory.js";
import { createLogger } from "../ops/logger.js";
import { readyBanner } from "../ops/serve-output.js";
import type { SiblingAnswers, SiblingRequest } from "../ops/worker-group.js";
import { IpcPeer } from "../shared/ipc-peer.js";
import { workerPort } from "./process-port.js";
import type { WorkerAssignment } from "./worker.js";

/** How long a survey waits for a worker's answer before counting it missing. */
const SURVEY_TIMEOUT_MS = 2_000;
/** How long after a drain's own deadline (shutdownTimeout) a worker may take before it is killed. */
const DRAIN_GRACE_MS = 5_000;

export interface PrimaryOptions {
  readonly config: HeraldConfig;
  readonly workers: number;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

interface Slot {
  readonly slot: number;
  readonly node: string;
  worker: Worker | undefined;
  peer: IpcPeer | undefined;
  listening: boolean;
  /** Exits in a row without listening in between; sets the backoff before the next fork. */
  failures: number;
}

/** Runs the primary; resolves with an exit code when the start failed, or -1 once every worker serves. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  return new Supervisor(options).start();
}

class Supervisor {
  private readonly config: HeraldConfig;
  private readonly logger: Logger;
  private readonly adminToken: string;
  private readonly host: EngineHost | undefined;
  private readonly slots: Slot[];
  private readonly surveys = new Map<string, Promise<SiblingAnswers>>();
  private ready = false;
  /** Set once the workers are told to go, by a signal or a failed start; nothing is replaced after it. */
  private stopping = false;
  private signalled = false;
  private exitCode = 0;
  private port = 0;
  private settleStart: (code: number) => void = () => undefined;

  constructor(private readonly options: PrimaryOptions) {
    this.config = options.config;
    this.logger = createLogger(this.config.logLevel).child({ role: "primary" });
    this.adminToken = this.config.security.adminToken ?? generateAdminToken();
    this.host = this.config.engine.type === "memory" ? new EngineHost(new MemoryEngine({ idempotencyKeys: this.config.publish.idempotencyKeys })) : undefined;
    // Stable names per slot: a replacement keeps its slot's name, so dashboards and metric labels do too.
    const base = this.config.node ?? `${hostname()}-${process.pid}`;
    this.slots = Array.from({ length: options.workers }, (_, i) => ({ slot: i + 1, node: `${base}-w${i + 1}`, worker: undefined, peer: undefined, listening: false, failures: 0 }));
  }

  async start(): Promise<number> {
    await this.host?.start();
    process.on("SIGTERM", () => this.stop("SIGTERM"));
    process.on("SIGINT", () => this.stop("SIGINT"));
    const started = new Promise<number>((resolve) => (this.settleStart = resolve));
    for (const slot of this.slots) this.fork(slot);
    return started;
  }

  private fork(slot: Slot): void {
    if (this.stopping) return;
    const worker = cluster.fork();
    const peer = new IpcPeer(workerPort(worker), (error, method) => this.logger.error({ err: error, worker: slot.slot, method }, "worker notice failed"));
    slot.worker = worker;
    slot.peer = peer;
    peer.handle("worker.hello", (): WorkerAssignment => ({
      slot: slot.slot,
      node: slot.node,
      adminToken: this.adminToken,
      ...(this.host ? { sharedEngine: this.host.name } : {}),
    }));
    peer.handle("workers.survey", (request: SiblingRequest) => this.survey(request));
    this.host?.serve(peer);
    worker.on("error", (error) => this.logger.warn({ err: error, worker: slot.slot }, "worker IPC error"));
    worker.on("listening", (address) => {
      slot.listening = true;
      slot.failures = 0;
      this.port = address.port;
      this.logger.info({ worker: slot.slot, node: slot.node, workerPid: worker.process.pid }, "worker listening");
      if (!this.ready && this.slots.every((each) => each.listening)) this.serving();
    });
    worker.once("exit", (code, signal) => this.exited(slot, worker, code, signal));
  }

  private serving(): void {
    this.ready = true;
    this.options.out(readyBanner(this.config, { port: this.port, adminToken: this.adminToken, workers: this.slots.map((slot) => ({ node: slot.node, pid: slot.worker?.process.pid })) }));
    this.settleStart(-1);
  }

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.peer = undefined;
    slot.listening = false;
    if (this.stopping) {
      // A worker that did not drain cleanly (its shutdown failed, or it was killed) makes the exit 1.
      if (code !== 0) this.exitCode = 1;
      return this.finishIfDone();
    }
    if (!this.ready) {
      // A worker that cannot start (port taken, Redis unreachable) printed why; the others would fail alike.
      this.options.err(`herald: worker ${slot.slot} exited (${signal ?? `code ${code}`}) before it listened; stopping\n`);
      this.stopping = true;
      this.exitCode = 1;
      for (const other of this.slots) other.worker?.process.kill("SIGTERM");
      return this.finishIfDone();
    }
    const delay = slot.failures === 0 ? 0 : backoffDelay(slot.failures - 1, DEFAULT_BACKOFF);
    slot.failures += 1;
    this.logger.warn({ worker: slot.slot, node: slot.node, workerPid: worker.process.pid, code, signal, restartInMs: delay }, `worker ${slot.slot} exited; starting a replacement`);
    // Not unref'd: with every worker gone, this timer is what keeps the primary alive.
    setTimeout(() => this.fork(slot), delay);
  }

  /** Asks every listening worker; identical surveys already in flight are shared. */
  private survey(request: SiblingRequest): Promise<SiblingAnswers> {
    const key = JSON.stringify(request);
    let pending = this.surveys.get(key);
    if (!pending) {
      pending = this.ask(request).finally(() => this.surveys.delete(key));
      this.surveys.set(key, pending);
    }
    return pending;
  }

  private async ask(request: SiblingRequest): Promise<SiblingAnswers> {
    const asked = this.slots.flatMap((slot) => (slot.listening && slot.peer ? [slot.peer] : []));
    const settled = await Promise.allSettled(asked.map((peer) => within(peer.call("worker.answer", request), SURVEY_TIMEOUT_MS)));
    const answers = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    return { answers, missing: settled.length - answers.length };
  }

  private stop(signal: string): void {
    if (this.signalled) {
      this.options.err(`herald: ${signal} again, exiting now\n`);
      for (const slot of this.slots) slot.worker?.process.kill("SIGKILL");
      process.exit(1);
    }
    this.signalled = true;
    this.stopping = true;
    this.options.out(`herald: ${signal} received, draining ${this.slots.length} workers\n`);
    for (const slot of this.slots) slot.worker?.process.kill("SIGTERM");
    const late = setTimeout(() => {
      this.options.err("herald: workers still running after shutdownTimeout; killing them\n");
      for (const slot of this.slots) slot.worker?.process.kill("SIGKILL");
      this.exitCode = 1;
    }, this.config.shutdownTimeout + DRAIN_GRACE_MS);
    late.unref();
    this.finishIfDone();
  }

  /** Exits once every worker has: the engine the workers drained into closes last. */
  private finishIfDone(): void {
    if (this.slots.some((slot) => slot.worker !== undefined)) return;
    void (this.host?.close() ?? Promise.resolve()).finally(() => {
      if (!this.ready) this.settleStart(this.exitCode);
      else process.exit(this.exitCode);
    });
  }
}

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
