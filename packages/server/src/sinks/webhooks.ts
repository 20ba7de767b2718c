/**
 * The webhook sink: POSTs published events, and lifecycle notices (channel occupied and vacated,
 * presence join and leave), to HTTP endpoints, signed as webhook-signature.ts describes.
 *
 * Bodies (JSON):
 *   {"kind":"event","id","node","event":{"channel","type","data","offset","epoch","timestamp"}}
 *   {"kind":"channel.occupied"|"channel.vacated","id","node","channel","timestamp"}
 *   {"kind":"presence.join"|"presence.leave","id","node","channel","connectionId","user?","timestamp"}
 *   {"kind":"user.online"|"user.offline","id","node","user","timestamp"}   (one node sends each, see online-users.ts)
 * `id` (also in the Herald-Delivery header) names the delivery on every try and every node: for an
 * event it is derived from the event's channel, epoch and offset (delivery-id.ts), so a receiver can
 * drop the rare repeat.
 *
 * Lifecycle and guarantees: each endpoint has its own delivery queue (delivery-queue.ts), ordered:
 * deliveries to one endpoint are sent one at a time, in the order they were queued, and a failing
 * one holds the others back. A non-2xx answer, a network error or a timeout is retried with backoff
 * up to `attempts` tries; then the delivery is a dead letter, listed in /api/status and retried from
 * there. Events are queued before their publish is answered (`observe` returns the work the answer
 * waits for); lifecycle notices are queued as they happen, by the node where the change happened, as
 * only that node knows it. Where the queue lives decides the rest: in memory, at least once while
 * Herald runs; in Redis or PostgreSQL, at least once across restarts, tried by whichever node is alive.
 */

import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { anyChannelMatches, channelMatches } from "@herald/protocol";
import type { LifecycleKind, WebhookConfig, WebhookSinkConfig } from "../config/integrations-schema.js";
import type { PublishedEvent, StreamEvent } from "../engine/engine.js";
import { SpanKind, contextFromTraceparent, endSpan, startSpan, traceIdOf, traceparentOf } from "../shared/tracing.js";
import type { ChannelChange, PresenceChange, UserChange } from "../hub/hub-listeners.js";
import type { DeliveryQueue } from "./delivery-queue.js";
import type { DeliveryStore } from "./delivery-store.js";
import { deliveryId } from "./delivery-id.js";
import { postOnce } from "./post-queue.js";
import { signWebhook } from "./webhook-signature.js";
import { eventContext, type EventContext } from "./event-context.js";
import type { UnseenDeadlines, UnseenItem } from "./unseen.js";

/** One POST, as stored in the queue (its id is the queue's delivery id). */
interface Delivery {
  readonly kind: string;
  readonly channel: string;
  readonly body: string;
  /** The event's `traceparent` while tracing is on: each attempt is a span of its trace, and the receiver gets the header. */
  readonly trace?: string;
}

export interface WebhookDeadLetter {
  readonly url: string;
  readonly id: string;
  readonly kind: string;
  readonly channel: string;
  readonly attempts: number;
  readonly error: string;
  readonly at: string;
}

export interface WebhookEndpointStatus {
  readonly url: string;
  /** Counted by this node: deliveries it made, tries it retried, deliveries it gave up, and ones refused because the queue was full. */
  readonly delivered: number;
  readonly retries: number;
  readonly deadLettered: number;
  readonly dropped: number;
  /** Waiting, in flight or between tries, in the queue (with a durable store: for every node); null when the store cannot be read. */
  readonly queued: number | null;
}

export interface WebhookSinkStatus {
  readonly store: string;
  readonly endpoints: WebhookEndpointStatus[];
  /** Newest first, at most `deadLetters`. */
  readonly deadLetters: WebhookDeadLetter[];
  /** Why the store could not be read, when it could not. */
  readonly error?: string;
}

interface Endpoint {
  readonly config: WebhookConfig;
  readonly queue: DeliveryQueue<Delivery>;
  readonly wantsEvent: (event: StreamEvent) => boolean;
  readonly lifecycle: ReadonlySet<LifecycleKind>;
  readonly lifecycleChannel: (channel: string) => boolean;
  delivered: number;
  retries: number;
  deadLettered: number;
  dropped: number;
}

export class WebhookSink {
  private readonly endpoints: Endpoint[];

  constructor(
    private readonly config: WebhookSinkConfig,
    private readonly node: string,
    private readonly store: DeliveryStore,
    private readonly logger: Logger,
    /** Where the deadlines of `unseen` endpoints wait; needed when an endpoint has `unseen`. */
    private readonly unseen?: UnseenDeadlines,
  ) {
    unseen?.register("webhook", (item) => this.deliverUnseen(item));
    const seen = new Map<string, number>();
    this.endpoints = config.endpoints.map((endpoint) => {
      // Named by URL, so every node and every restart finds the same queue; a URL listed twice gets a second one.
      const repeat = seen.get(endpoint.url) ?? 0;
      seen.set(endpoint.url, repeat + 1);
      const hash = createHash("sha256").update(endpoint.url).digest("hex").slice(0, 16);
      return this.endpoint(endpoint, repeat === 0 ? `webhook-${hash}` : `webhook-${hash}-${repeat}`);
    });
  }

  /** True when some endpoint wants lifecycle notices (so the hub's channel/presence listeners are worth adding). */
  get wantsLifecycle(): boolean {
    return this.endpoints.some((endpoint) => endpoint.lifecycle.size > 0);
  }

  get wantsEvents(): boolean {
    return this.endpoints.some((endpoint) => endpoint.config.on !== undefined);
  }

  /**
   * Queues the event for every endpoint that wants it; the promise (none when nothing matched) is
   * what the publish's answer waits for. A replayed publish queues again only where the store
   * refuses repeated ids.
   */
  observe(event: PublishedEvent): Promise<void> | undefined {
    const matching = this.endpoints.filter((endpoint) => endpoint.wantsEvent(event) && (!event.replayed || endpoint.queue.durable));
    const unseen = this.unseen;
    const later = unseen === undefined ? [] : matching.filter((endpoint) => endpoint.config.unseen !== undefined);
    const wanting = matching.filter((endpoint) => !later.includes(endpoint));
    if (wanting.length === 0 && later.length === 0) return undefined;
    const work: Array<Promise<void>> = later.map((endpoint) => unseen!.schedule("webhook", this.endpoints.indexOf(endpoint), endpoint.config.unseen!, endpoint.config.user, event));
    if (wanting.length > 0) work.push(this.enqueueEvent(wanting, eventContext(event), event.trace));
    return Promise.all(work).then(() => undefined);
  }

  /** An `unseen` endpoint's deadline passed with the event not acknowledged: it is POSTed now. */
  private async deliverUnseen(item: UnseenItem): Promise<void> {
    const endpoint = this.endpoints[item.rule];
    if (endpoint) await this.enqueueEvent([endpoint], item.event);
  }

  private enqueueEvent(endpoints: Endpoint[], context: EventContext, trace?: string): Promise<void> {
    const id = deliveryId("event", context.channel, context.epoch, context.offset);
    const body = JSON.stringify({ kind: "event", id, node: this.node, event: context });
    return this.enqueue(endpoints, id, trace === undefined ? { kind: "event", channel: context.channel, body } : { kind: "event", channel: context.channel, body, trace });
  }

  observeChannel(change: ChannelChange): void {
    this.lifecycle(change.occupied ? "channel.occupied" : "channel.vacated", change.channel, {});
  }

  observePresence(change: PresenceChange): void {
    const extra = change.user === undefined ? { connectionId: change.connectionId } : { connectionId: change.connectionId, user: change.user };
    this.lifecycle(change.joined ? "presence.join" : "presence.leave", change.channel, extra);
  }

  /** True when some endpoint wants user.online or user.offline. */
  get wantsUsers(): boolean {
    return this.endpoints.some((endpoint) => endpoint.lifecycle.has("user.online") || endpoint.lifecycle.has("user.offline"));
  }

  observeUser(change: UserChange): void {
    const kind = change.online ? "user.online" : "user.offline";
    const wanting = this.endpoints.filter((endpoint) => endpoint.lifecycle.has(kind));
    if (wanting.length === 0) return;
    const id = randomUUID();
    const body = JSON.stringify({ kind, id, node: this.node, user: change.user, timestamp: change.at });
    this.enqueue(wanting, id, { kind, channel: "", body }).catch((error: unknown) => {
      this.logger.error({ sink: "webhook", kind, user: change.user, err: (error as Error).message }, "webhook notice not queued: the delivery store failed");
    });
  }

  /** Resolves when no delivery waits, runs or waits for a retry (tests). */
  idle(): Promise<void> {
    return Promise.all(this.endpoints.map((endpoint) => endpoint.queue.idle())).then(() => undefined);
  }

  async status(): Promise<WebhookSinkStatus> {
    const counts = await Promise.allSettled(this.endpoints.map((endpoint) => endpoint.queue.counts()));
    let error: string | undefined;
    const letters: WebhookDeadLetter[] = [];
    try {
      for (const endpoint of this.endpoints) {
        for (const letter of await endpoint.queue.deadLetters()) {
          letters.push({ url: endpoint.config.url, id: letter.id, kind: letter.data.kind, channel: letter.data.channel, attempts: letter.attempts, error: letter.error, at: letter.at });
        }
      }
    } catch (failure) {
      error = (failure as Error).message;
    }
    const endpoints = this.endpoints.map((e, index) => {
      const count = counts[index]!;
      if (count.status === "rejected") error ??= (count.reason as Error).message;
      return { url: e.config.url, delivered: e.delivered, retries: e.retries, deadLettered: e.deadLettered, dropped: e.dropped, queued: count.status === "fulfilled" ? count.value.queued : null };
    });
    letters.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return { store: this.store.kind, endpoints, deadLetters: letters.slice(0, this.config.deadLetters), ...(error === undefined ? {} : { error }) };
  }

  /** Queues dead letters again with fresh tries: of one endpoint (`url`), one delivery (`id`), or all; resolves to how many. */
  async retry(filter: { url?: string; id?: string } = {}): Promise<number> {
    let retried = 0;
    for (const endpoint of this.endpoints) {
      if (filter.url !== undefined && endpoint.config.url !== filter.url) continue;
      retried += await endpoint.queue.retry(filter.id);
    }
    return retried;
  }

  private lifecycle(kind: LifecycleKind, channel: string, extra: Record<string, unknown>): void {
    const wanting = this.endpoints.filter((endpoint) => endpoint.lifecycle.has(kind) && endpoint.lifecycleChannel(channel));
    if (wanting.length === 0) return;
    const id = randomUUID();
    const body = JSON.stringify({ kind, id, node: this.node, channel, ...extra, timestamp: new Date().toISOString() });
    // Nothing waits for a notice: the change it reports has happened already.
    this.enqueue(wanting, id, { kind, channel, body }).catch((error: unknown) => {
      this.logger.error({ sink: "webhook", kind, channel, err: (error as Error).message }, "webhook notice not queued: the delivery store failed");
    });
  }

  private async enqueue(endpoints: Endpoint[], id: string, delivery: Delivery): Promise<void> {
    await Promise.all(
      endpoints.map(async (endpoint) => {
        if ((await endpoint.queue.add(id, delivery)) === "queued") return;
        endpoint.dropped += 1;
        this.logger.warn({ sink: "webhook", url: endpoint.config.url, kind: delivery.kind, channel: delivery.channel, maxQueue: this.config.maxQueue }, "webhook queue full; delivery dropped");
      }),
    );
  }

  private endpoint(config: WebhookConfig, name: string): Endpoint {
    const on = config.on;
    const types = on?.types && on.types.length > 0 ? new Set(on.types) : undefined;
    const endpoint: Endpoint = {
      config,
      wantsEvent: (event) => on !== undefined && channelMatches(on.channel, event.channel) && (types === undefined || types.has(event.type)),
      lifecycle: new Set(config.lifecycle),
      lifecycleChannel: (channel) => anyChannelMatches(config.channels, channel),
      delivered: 0,
      retries: 0,
      deadLettered: 0,
      dropped: 0,
      queue: this.store.queue<Delivery>({
        name,
        attempts: config.attempts,
        retryDelay: config.retryDelay,
        maxQueue: this.config.maxQueue,
        deadLetters: this.config.deadLetters,
        concurrency: 1,
        ordered: true,
        run: (delivery, attempt, id) => this.post(config, id, delivery, attempt),
        onSuccess: () => {
          endpoint.delivered += 1;
        },
        onRetry: (delivery, error, attempt) => {
          endpoint.retries += 1;
          this.logger.debug({ sink: "webhook", url: config.url, kind: delivery.kind, attempt, err: error.message, ...traceField(delivery) }, "webhook try failed; will retry");
        },
        onGiveUp: (delivery, error, attempts) => {
          endpoint.deadLettered += 1;
          this.logger.warn({ sink: "webhook", url: config.url, kind: delivery.kind, channel: delivery.channel, attempts, err: error.message, ...traceField(delivery) }, "webhook dead-lettered");
        },
      }),
    };
    return endpoint;
  }

  private async post(config: WebhookConfig, id: string, delivery: Delivery, attempt: number): Promise<void> {
    const span = delivery.trace === undefined ? undefined : startSpan("herald.webhook", contextFromTraceparent(delivery.trace), { "url.full": config.url, "herald.delivery": id, "herald.attempt": attempt }, SpanKind.CLIENT);
    const traceparent = traceparentOf(span);
    const headers = {
      "content-type": "application/json",
      "user-agent": "Herald-Webhooks",
      "herald-delivery": id,
      "herald-event": delivery.kind,
      "herald-attempt": String(attempt),
      "herald-signature": signWebhook(config.secret, delivery.body),
      ...(traceparent === undefined ? {} : { traceparent }),
    };
    try {
      await postOnce(config.url, headers, delivery.body, config.timeout);
      endSpan(span);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }
}

/** The trace id for log lines about a delivery, so an operator can find its trace. */
function traceField(delivery: Delivery): { traceId?: string } {
  return delivery.trace === undefined ? {} : { traceId: traceIdOf(delivery.trace)! };
}
