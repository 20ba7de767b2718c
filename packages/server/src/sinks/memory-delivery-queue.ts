/**
 * The delivery queue of the memory engine: deliveries wait in this process (retry-queue.ts) and
 * dead letters in a bounded list. There is nothing to persist to, so what waits when the process
 * stops is lost, and each node delivers only what it queued itself.
 */

import type { AddOutcome, DeadLetter, DeliveryCounts, DeliveryQueue, DeliveryQueueOptions } from "./delivery-queue.js";
import { RetryQueue } from "./retry-queue.js";

interface Item<T> {
  readonly id: string;
  readonly data: T;
}

export class MemoryDeliveryQueue<T> implements DeliveryQueue<T> {
  readonly durable = false;
  private readonly queue: RetryQueue<Item<T>>;
  private readonly dead: Array<DeadLetter<T>> = [];

  constructor(private readonly options: DeliveryQueueOptions<T>) {
    this.queue = new RetryQueue<Item<T>>({
      attempts: options.attempts,
      retryDelay: options.retryDelay,
      maxQueue: options.maxQueue,
      concurrency: options.concurrency,
      ordered: options.ordered,
      run: (item, attempt) => options.run(item.data, attempt, item.id),
      onSuccess: (item, attempt) => options.onSuccess?.(item.data, attempt),
      onRetry: (item, error, attempt) => options.onRetry?.(item.data, error, attempt),
      onGiveUp: (item, error, attempts) => {
        options.onGiveUp?.(item.data, error, attempts);
        this.bury({ id: item.id, data: item.data, attempts, error: error.message, at: new Date().toISOString() });
      },
    });
  }

  add(id: string, data: T): AddOutcome {
    return this.queue.push({ id, data }) ? "queued" : "full";
  }

  async counts(): Promise<DeliveryCounts> {
    return { queued: this.queue.size, deadLetters: this.dead.length };
  }

  async deadLetters(): Promise<Array<DeadLetter<T>>> {
    return [...this.dead].reverse();
  }

  async retry(id?: string): Promise<number> {
    let retried = 0;
    for (let i = 0; i < this.dead.length; i++) {
      const letter = this.dead[i]!;
      if (id !== undefined && letter.id !== id) continue;
      if (!this.queue.push({ id: letter.id, data: letter.data })) break;
      this.dead.splice(i, 1);
      i -= 1;
      retried += 1;
    }
    return retried;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  async stopTaking(): Promise<void> {
    this.queue.stop();
  }

  async close(): Promise<void> {}

  private bury(letter: DeadLetter<T>): void {
    if (this.options.deadLetters === 0) return;
    this.dead.push(letter);
    if (this.dead.length > this.options.deadLetters) this.dead.shift();
  }
}
