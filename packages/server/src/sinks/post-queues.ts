/**
 * The POST queues (post-queue.ts) of a front door with a webhook format of its own (Pusher's
 * `{"time_ms", "events": [{"name", "channel", …}]}`), one per app and URL, seen together as one
 * sink: listed in /api/status with their figures and dead letters as Herald's own webhooks are,
 * and retried the same way (POST /api/admin/dead-letters/retry). With a durable store every node
 * lists and retries the same dead letters.
 */

import type { Logger } from "pino";
import type { DeliveryStore } from "./delivery-store.js";
import { PostQueue, type PostQueueOptions } from "./post-queue.js";
import type { WebhookDeadLetter, WebhookEndpointStatus, WebhookSinkStatus } from "./webhooks.js";

/** An URL's figures, as a webhook endpoint's, with the app it is one of. */
export interface PostEndpointStatus extends WebhookEndpointStatus {
  readonly app: string;
}

/**
 * A POST that used its tries, as a webhook dead letter, with its app; `kind` names the body's
 * events (`channel_vacated, member_removed`) and `channel` their channels.
 */
export interface PostDeadLetter extends WebhookDeadLetter {
  readonly app: string;
}

export interface PostSinkStatus extends Omit<WebhookSinkStatus, "endpoints" | "deadLetters"> {
  readonly endpoints: PostEndpointStatus[];
  readonly deadLetters: PostDeadLetter[];
}

export class PostQueues {
  private readonly queues: Array<{ readonly app: string; readonly queue: PostQueue }> = [];

  constructor(
    private readonly store: DeliveryStore,
    /** Dead letters listed at most. */
    private readonly listed: number,
  ) {}

  get size(): number {
    return this.queues.length;
  }

  /** The queue of one of `app`'s URLs. */
  add(app: string, options: PostQueueOptions, logger: Logger): PostQueue {
    const queue = new PostQueue(this.store, options, logger);
    this.queues.push({ app, queue });
    return queue;
  }

  async status(): Promise<PostSinkStatus> {
    const counts = await Promise.allSettled(this.queues.map(({ queue }) => queue.counts()));
    let error: string | undefined;
    const letters: PostDeadLetter[] = [];
    try {
      for (const { app, queue } of this.queues) {
        for (const letter of await queue.deadLetters()) {
          letters.push({ app, url: queue.options.url, id: letter.id, ...describe(letter.data.body), attempts: letter.attempts, error: letter.error, at: letter.at });
        }
      }
    } catch (failure) {
      error = (failure as Error).message;
    }
    const endpoints = this.queues.map(({ app, queue }, index): PostEndpointStatus => {
      const count = counts[index]!;
      if (count.status === "rejected") error ??= (count.reason as Error).message;
      const queued = count.status === "fulfilled" ? count.value.queued : null;
      return { app, url: queue.options.url, delivered: queue.delivered, retries: queue.retries, deadLettered: queue.deadLettered, dropped: queue.dropped, queued };
    });
    letters.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return { store: this.store.kind, endpoints, deadLetters: letters.slice(0, this.listed), ...(error === undefined ? {} : { error }) };
  }

  /** Queues dead letters again with fresh tries: of one URL, one POST (`id`), or all; resolves to how many. */
  async retry(filter: { url?: string; id?: string } = {}): Promise<number> {
    let retried = 0;
    for (const { queue } of this.queues) {
      if (filter.url !== undefined && queue.options.url !== filter.url) continue;
      retried += await queue.retry(filter.id);
    }
    return retried;
  }

  /** Resolves when no POST waits, runs or waits for a retry (tests). */
  async idle(): Promise<void> {
    await Promise.all(this.queues.map(({ queue }) => queue.idle()));
  }
}

/** What a dead letter's body reports, in a line: its events' names and channels, each once. */
function describe(body: string): { kind: string; channel: string } {
  let events: unknown;
  try {
    events = (JSON.parse(body) as { events?: unknown }).events;
  } catch {
    return { kind: "", channel: "" };
  }
  const list = Array.isArray(events) ? (events as Array<{ name?: unknown; channel?: unknown }>) : [];
  const distinct = (values: unknown[]): string => [...new Set(values.filter((value) => typeof value === "string"))].join(", ");
  return { kind: distinct(list.map((event) => event.name)), channel: distinct(list.map((event) => event.channel)) };
}
