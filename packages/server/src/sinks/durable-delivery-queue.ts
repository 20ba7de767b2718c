/**
 * A delivery queue stored in Redis or PostgreSQL through BullMQ: deliveries outlive the process
 * that queued them, every node runs a worker on the queue, and each delivery is taken by one
 * worker at a time (a lock it renews while the try runs). A node that dies mid-try stops renewing;
 * after `lockDuration` another node's stalled-job check puts the delivery back, and it is tried
 * again (counted as a try, with the same id).
 *
 * Tries: the try number is BullMQ's `attemptsStarted` (a try cut by a crash counts, as it may have
 * reached the receiver). The last failed try moves the job to BullMQ's failed set, which is the
 * dead-letter list, with the error as its reason; a retry moves it back with fresh tries.
 *
 * Order (`ordered`): the queue's global concurrency is 1, so one try runs at a time across every
 * node, and a failed try does not let later jobs pass: the queue is rate-limited for the backoff
 * delay (a shared key, so every node waits, and it survives a restart) and the job goes back to the
 * head of the line. Unordered queues use BullMQ's own retries with the same backoff, delayed jobs
 * letting later ones go ahead.
 *
 * Ids: the delivery id is the job id, so adding an id that is waiting, failed or completed within
 * `keepCompleted` stores nothing (BullMQ skips a job id it already holds).
 */

import { backoffDelay } from "@herald/protocol";
import { UnrecoverableError, Worker, type IQueueBackend, type Job, type Queue } from "bullmq";
import type { Logger } from "pino";
import type { AddOutcome, DeadLetter, DeliveryCounts, DeliveryQueue, DeliveryQueueOptions } from "./delivery-queue.js";

// BullMQ's classes are generic over the backend and its connection type; Herald uses both backends alike.
export type BullQueue<T> = Queue<T, void, string, T, void, string, IQueueBackend, any>;
export type BullWorker<T> = Worker<T, void, string, IQueueBackend, any, any>;

/** What the store (delivery-store.ts) gives each queue: its backend, bound to one connection. */
export interface BullBinding {
  readonly store: "redis" | "postgres";
  /** How long a silent node keeps a delivery locked before another node takes it over, in ms. */
  readonly lockDuration: number;
  /** How long delivered jobs are kept to refuse a repeated add of their id, in seconds. */
  readonly keepCompleted: number;
  newQueue<T>(name: string): BullQueue<T>;
  newWorker<T>(name: string, process: (job: Job<T, void, string>) => Promise<void>, options: WorkerTuning): BullWorker<T>;
}

export interface WorkerTuning {
  readonly concurrency: number;
  readonly lockDuration: number;
  readonly stalledInterval: number;
  readonly maxStalledCount: number;
  /** Needed for the manual rate limit that holds an ordered queue's line. */
  readonly limiter?: { readonly max: number; readonly duration: number };
  readonly settings?: { readonly backoffStrategy: (attemptsMade: number) => number };
}

// BullMQ applies the manual rate limit only to workers that have a limiter; this one never limits
// by itself (the Postgres backend stores it in a 32-bit integer, hence not larger).
const NEVER_LIMITS = { max: 2_000_000_000, duration: 1_000 };
// How often the approximate size behind `maxQueue` is read again, ms.
const COUNT_EVERY = 1_000;

export class DurableDeliveryQueue<T> implements DeliveryQueue<T> {
  readonly durable = true;
  private readonly queue: BullQueue<T>;
  private worker: BullWorker<T> | undefined;
  private readonly adding = new Set<Promise<unknown>>();
  private approximateSize = 0;
  private countedAt = 0;
  private lastError: { message: string; at: number } | undefined;

  constructor(
    private readonly options: DeliveryQueueOptions<T>,
    private readonly binding: BullBinding,
    private readonly logger: Logger,
  ) {
    this.queue = binding.newQueue<T>(options.name);
    this.queue.on("error", (error) => this.report(error));
  }

  /** Readies the queue's settings and starts this node's worker on it. */
  async start(): Promise<void> {
    await this.settle();
    const lockDuration = this.binding.lockDuration;
    const worker = this.binding.newWorker<T>(this.options.name, (job) => this.process(job), {
      concurrency: this.options.ordered ? 1 : this.options.concurrency,
      lockDuration,
      stalledInterval: lockDuration,
      // A crash mid-try counts as a try (attemptsStarted); the tries, not the stalls, bound a delivery.
      maxStalledCount: this.options.attempts,
      ...(this.options.ordered ? { limiter: NEVER_LIMITS } : { settings: { backoffStrategy: (attemptsMade: number) => this.delay(attemptsMade) } }),
    });
    worker.on("error", (error) => this.report(error));
    this.worker = worker;
  }

  /**
   * Writes the queue's settings (an ordered queue's global concurrency of 1). Again after each
   * reconnection: a Redis that restarted without its data has forgotten them.
   */
  async settle(): Promise<void> {
    if (this.options.ordered) await this.queue.setGlobalConcurrency(1);
  }

  async add(id: string, data: T): Promise<AddOutcome> {
    this.refreshSize();
    if (this.approximateSize >= this.options.maxQueue) return "full";
    const adding = this.queue.add(this.options.name, data, {
      jobId: id,
      attempts: this.options.ordered ? 1 : this.options.attempts,
      ...(this.options.ordered ? {} : { backoff: { type: "herald" } }),
      removeOnComplete: { age: this.binding.keepCompleted, count: 1_000 },
      removeOnFail: this.options.deadLetters === 0 ? true : { count: this.options.deadLetters },
    });
    this.adding.add(adding);
    try {
      await adding;
    } finally {
      this.adding.delete(adding);
    }
    this.approximateSize += 1;
    return "queued";
  }

  async counts(): Promise<DeliveryCounts> {
    const counts = await this.queue.getJobCounts("waiting", "active", "delayed", "prioritized", "failed");
    const queued = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
    this.approximateSize = queued;
    this.countedAt = Date.now();
    return { queued, deadLetters: counts.failed ?? 0 };
  }

  async deadLetters(): Promise<Array<DeadLetter<T>>> {
    if (this.options.deadLetters === 0) return [];
    const jobs = await this.queue.getJobs(["failed"], 0, this.options.deadLetters - 1, false);
    return jobs.map((job) => ({
      id: job.id!,
      data: job.data,
      attempts: job.attemptsStarted,
      error: job.failedReason,
      at: new Date(job.finishedOn ?? job.timestamp).toISOString(),
    }));
  }

  async retry(id?: string): Promise<number> {
    const jobs = id === undefined ? await this.queue.getJobs(["failed"], 0, -1) : [await this.queue.getJob(id)];
    let retried = 0;
    for (const job of jobs) {
      if (!job || !(await job.isFailed())) continue;
      await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
      retried += 1;
    }
    return retried;
  }

  async idle(): Promise<void> {
    while ((await this.counts()).queued > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  async stopTaking(timeoutMs: number): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // Paused, the worker takes nothing more; the wait is for the tries in flight.
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      worker.pause(false).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!finished) this.logger.warn({ queue: this.options.name, shutdownTimeout: timeoutMs }, "deliveries still in flight at shutdownTimeout; another node retries them once their lock expires");
    // Forced, a try still running keeps its lock, which expires for another node to take it.
    await worker.close(!finished).catch((error: unknown) => this.report(error));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.adding]);
    await this.queue.close().catch((error: unknown) => this.report(error));
  }

  private async process(job: Job<T, void, string>): Promise<void> {
    const attempt = job.attemptsStarted;
    try {
      await this.options.run(job.data, attempt, job.id!);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (attempt >= this.options.attempts) {
        this.options.onGiveUp?.(job.data, failure, attempt);
        throw new UnrecoverableError(failure.message);
      }
      this.options.onRetry?.(job.data, failure, attempt);
      if (!this.options.ordered) throw failure;
      // Hold the line: nothing behind this delivery goes before it, on any node, until the delay passed.
      // Should the store fail to note the delay, the delivery still goes back to the head, tried again sooner.
      await this.queue.rateLimit(this.delay(attempt)).catch((failure: unknown) => this.report(failure));
      throw Worker.RateLimitError();
    }
    this.options.onSuccess?.(job.data, attempt);
  }

  /** The wait after the given 1-based failed try. */
  private delay(attempt: number): number {
    return backoffDelay(attempt - 1, { minDelay: this.options.retryDelay, maxDelay: 60 * this.options.retryDelay, factor: 2 });
  }

  private refreshSize(): void {
    if (Date.now() - this.countedAt < COUNT_EVERY) return;
    this.countedAt = Date.now();
    this.counts().catch(() => undefined);
  }

  /** Logs a store error once, then again only if it changes or 30 s passed (Redis down repeats it many times a second). */
  private report(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    if (this.lastError && this.lastError.message === message && now - this.lastError.at < 30_000) return;
    this.lastError = { message, at: now };
    this.logger.warn({ queue: this.options.name, store: this.binding.store, err: message }, "delivery queue error; its deliveries wait until the store answers");
  }
}
