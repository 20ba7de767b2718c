/**
 * Signed POSTs to one URL through a delivery queue (delivery-queue.ts): ordered, retried with
 * backoff, dead-lettered after `attempts`, and durable where the store is. The webhook sink posts
 * through `postOnce`; a front door with a webhook format of its own (Pusher's) queues its bodies,
 * already signed, with `PostQueue`, so every webhook Herald sends is carried the same way.
 */

import type { Logger } from "pino";
import type { DeadLetter, DeliveryCounts, DeliveryQueue } from "./delivery-queue.js";
import type { DeliveryStore } from "./delivery-store.js";

/** One try: POSTs `body`; throws on a network error, a timeout or a non-2xx answer. */
export async function postOnce(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<void> {
  const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) }).catch((error: unknown) => {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a DNS failure) is its cause, which the dead letter should show.
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new Error(cause ? `${(error as Error).message}: ${cause}` : (error as Error).message);
  });
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (response.status < 200 || response.status >= 300) throw new Error(`HTTP ${response.status}`);
}

export interface PostQueueOptions {
  /** Names the queue in the store; stable across nodes and restarts. */
  readonly name: string;
  readonly url: string;
  readonly attempts: number;
  readonly retryDelay: number;
  readonly timeout: number;
  readonly maxQueue: number;
  readonly deadLetters: number;
}

export interface Post {
  readonly headers: Record<string, string>;
  readonly body: string;
}

export class PostQueue {
  private readonly queue: DeliveryQueue<Post>;
  /** Counted by this node: POSTs it delivered, tries it retried, POSTs it gave up, and ones refused because the queue was full. */
  delivered = 0;
  retries = 0;
  deadLettered = 0;
  dropped = 0;

  constructor(
    store: DeliveryStore,
    readonly options: PostQueueOptions,
    private readonly logger: Logger,
  ) {
    this.queue = store.queue<Post>({
      name: options.name,
      attempts: options.attempts,
      retryDelay: options.retryDelay,
      maxQueue: options.maxQueue,
      deadLetters: options.deadLetters,
      concurrency: 1,
      ordered: true,
      run: (post) => postOnce(options.url, { "content-type": "application/json", "user-agent": "Herald-Webhooks", ...post.headers }, post.body, options.timeout),
      onSuccess: () => {
        this.delivered += 1;
      },
      onRetry: (_post, error, attempt) => {
        this.retries += 1;
        this.logger.debug({ url: options.url, attempt, err: error.message }, "webhook try failed; will retry");
      },
      onGiveUp: (_post, error, attempts) => {
        this.deadLettered += 1;
        this.logger.warn({ url: options.url, attempts, err: error.message }, "webhook dead-lettered");
      },
    });
  }

  /** Stores one POST (under a delivery id unique to it); resolves once stored. */
  async add(id: string, headers: Record<string, string>, body: string): Promise<void> {
    if ((await this.queue.add(id, { headers, body })) === "full") {
      this.dropped += 1;
      this.logger.warn({ url: this.options.url, maxQueue: this.options.maxQueue }, "webhook queue full; delivery dropped");
    }
  }

  counts(): Promise<DeliveryCounts> {
    return this.queue.counts();
  }

  /** The POSTs that used their tries, newest first. */
  deadLetters(): Promise<Array<DeadLetter<Post>>> {
    return this.queue.deadLetters();
  }

  /** Queues dead letters again with fresh tries: the one with `id`, or all; resolves to how many. */
  retry(id?: string): Promise<number> {
    return this.queue.retry(id);
  }

  /** Resolves when nothing waits, runs or waits for a retry. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}
