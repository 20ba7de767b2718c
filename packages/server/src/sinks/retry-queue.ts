/**
 * A bounded in-memory queue of deliveries, each tried up to `attempts` times with growing,
 * jittered delays between tries: the email and webhook sinks' queue with the memory engine
 * (memory-delivery-queue.ts).
 *
 * Lifecycle: push() returns at once (false when the queue is full: the caller counts the drop);
 * work runs in the background with at most `concurrency` tries in flight; stop() cancels the
 * timers and forgets what waits. Nothing is persisted: deliveries waiting when the process stops
 * are lost, which the sinks' docs say plainly (Redis and PostgreSQL keep them: durable-delivery-queue.ts).
 *
 * Ordering: with `ordered`, one try runs at a time and a failed item is retried before any later
 * one starts, so deliveries reach the receiver in push order (a failing receiver holds the line up
 * to its retries). Without it, a failed item waits on a timer while later items go ahead.
 */

import { backoffDelay } from "@herald/protocol";

export interface RetryQueueOptions<T> {
  readonly attempts: number;
  /** Floor and base of the jittered, doubling delay between tries, in ms (capped at 60 times this). */
  readonly retryDelay: number;
  readonly maxQueue: number;
  readonly concurrency: number;
  readonly ordered: boolean;
  run(item: T, attempt: number): Promise<void>;
  /** Called after the last failed try. */
  onGiveUp(item: T, error: Error, attempts: number): void;
  /** Called after each failed try that will be retried. */
  onRetry?(item: T, error: Error, attempt: number): void;
  onSuccess?(item: T, attempts: number): void;
}

interface Entry<T> {
  readonly item: T;
  tries: number;
}

export class RetryQueue<T> {
  private readonly waiting: Entry<T>[] = [];
  private running = 0;
  private delayed = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: RetryQueueOptions<T>) {}

  /** Queues an item; false when the queue is full or stopped (the item is not taken). */
  push(item: T): boolean {
    if (this.stopped || this.size >= this.options.maxQueue) return false;
    this.waiting.push({ item, tries: 0 });
    this.pump();
    return true;
  }

  /** Items waiting, running or between tries. */
  get size(): number {
    return this.waiting.length + this.running + this.delayed;
  }

  /** Resolves when nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
    this.delayed = 0;
  }

  private pump(): void {
    const limit = this.options.ordered ? 1 : this.options.concurrency;
    while (!this.stopped && this.running < limit && this.waiting.length > 0) {
      const entry = this.waiting.shift()!;
      this.running += 1;
      void this.attempt(entry);
    }
    if (this.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async attempt(entry: Entry<T>): Promise<void> {
    entry.tries += 1;
    try {
      await this.options.run(entry.item, entry.tries);
      this.options.onSuccess?.(entry.item, entry.tries);
    } catch (error) {
      if (this.stopped) return;
      const failure = error instanceof Error ? error : new Error(String(error));
      if (entry.tries >= this.options.attempts) {
        this.options.onGiveUp(entry.item, failure, entry.tries);
      } else {
        this.options.onRetry?.(entry.item, failure, entry.tries);
        this.retryLater(entry);
        return;
      }
    }
    this.running -= 1;
    this.pump();
  }

  private retryLater(entry: Entry<T>): void {
    const delay = backoffDelay(entry.tries - 1, { minDelay: this.options.retryDelay, maxDelay: 60 * this.options.retryDelay, factor: 2 });
    if (this.options.ordered) {
      // Keep the slot: nothing behind this item starts before it succeeds or gives up.
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.attemptHeld(entry);
      }, delay);
      timer.unref();
      this.timers.add(timer);
      return;
    }
    this.running -= 1;
    this.delayed += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.delayed -= 1;
      this.waiting.unshift(entry);
      this.pump();
    }, delay);
    timer.unref();
    this.timers.add(timer);
    this.pump();
  }

  /** An ordered retry: the slot is still counted in `running`. */
  private async attemptHeld(entry: Entry<T>): Promise<void> {
    if (this.stopped) return;
    await this.attempt(entry);
  }
}
