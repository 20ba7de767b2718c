/**
 * The contract between a sink (what to deliver, and how: an SMTP message, a signed POST) and the
 * queue its deliveries wait in (where: this process's memory, or Redis or PostgreSQL through
 * BullMQ, see delivery-store.ts). A sink names each delivery with a stable id, hands it to `add`,
 * and is called back to try it; the queue decides who tries it when, and keeps what failed.
 *
 * Guarantees every queue gives: a delivery is tried at most `attempts` times, the try number is
 * passed to `run` (1, 2, …), the wait between tries grows (protocol backoff), and a delivery that
 * used its tries becomes a dead letter with its last error, kept (up to `deadLetters`) until it is
 * retried. With `ordered`, one try runs at a time and a failing delivery holds back the ones
 * behind it until it succeeds or dies, so a receiver sees them in the order they were added.
 * What a queue adds on top (surviving restarts, sharing work between nodes) is in `durable`.
 */

export interface DeliveryQueueOptions<T> {
  /** Names the queue where it is stored, e.g. `email` or `webhook-<hash>`; stable across nodes and restarts. */
  readonly name: string;
  readonly attempts: number;
  /** Floor and base of the doubling, jittered delay between tries, in ms. */
  readonly retryDelay: number;
  readonly ordered: boolean;
  /** Tries in flight at once on this node (1 when ordered). */
  readonly concurrency: number;
  /** Deliveries waiting at most; `add` refuses more (`full`). */
  readonly maxQueue: number;
  /** Dead letters kept; the oldest go first. */
  readonly deadLetters: number;
  /** One try; throws to fail it. `attempt` counts from 1. */
  run(data: T, attempt: number, id: string): Promise<void>;
  onSuccess?(data: T, attempt: number): void;
  /** After a failed try that will be retried. */
  onRetry?(data: T, error: Error, attempt: number): void;
  /** After the last failed try: the delivery is now a dead letter. */
  onGiveUp?(data: T, error: Error, attempts: number): void;
}

export interface DeadLetter<T> {
  readonly id: string;
  readonly data: T;
  readonly attempts: number;
  readonly error: string;
  /** ISO-8601 time of the last try. */
  readonly at: string;
}

export interface DeliveryCounts {
  /** Deliveries waiting, in flight or between tries (for a durable queue: on every node). */
  readonly queued: number;
  readonly deadLetters: number;
}

/** `full`: not taken, the queue holds `maxQueue` already. */
export type AddOutcome = "queued" | "full";

export interface DeliveryQueue<T> {
  /** True when deliveries outlive this process and any node may try them. */
  readonly durable: boolean;
  /**
   * Stores a delivery; resolves once it is stored. An id already waiting (or recently delivered,
   * for a durable queue) is not stored twice, so adding again after a failed answer is safe.
   */
  add(id: string, data: T): Promise<AddOutcome> | AddOutcome;
  counts(): Promise<DeliveryCounts>;
  /** The dead letters, newest first. */
  deadLetters(): Promise<Array<DeadLetter<T>>>;
  /** Queues dead letters again with fresh tries: the one with `id`, or all of them; resolves to how many. */
  retry(id?: string): Promise<number>;
  /** Resolves when nothing waits, runs or waits for a retry (tests and graceful stops). */
  idle(): Promise<void>;
  /**
   * Stops taking deliveries and waits up to `timeoutMs` for the tries in flight. A durable queue
   * leaves the rest stored for the next node; the memory queue loses them.
   */
  stopTaking(timeoutMs: number): Promise<void>;
  /** Releases what stopTaking kept open for adding (after the last publish was answered). */
  close(): Promise<void>;
}
