/**
 * The webhook sink: POSTs published events, and lifecycle notices (channel occupied and vacated,
 * presence join and leave), to HTTP endpoints, signed as webhook-signature.ts describes.
 *
 * Bodies (JSON):
 *   {"kind":"event","id","node","event":{"channel","type","data","offset","epoch","timestamp"}}
 *   {"kind":"channel.occupied"|"channel.vacated","id","node","channel","timestamp"}
 *   {"kind":"presence.join"|"presence.leave","id","node","channel","connectionId","user?","timestamp"}
 * `id` (also in the Herald-Delivery header) stays the same across the tries of one delivery, so a
 * receiver can drop a repeat.
 *
 * Lifecycle and guarantees: the sink listens to the hub (never blocking it) and queues each
 * delivery in memory, one queue per endpoint. Deliveries to one endpoint are sent one at a time,
 * in order; a non-2xx answer, a network error or a timeout is retried with backoff up to
 * `attempts` tries, and then the delivery goes to a bounded dead-letter log shown by /api/status.
 * At least once while Herald runs (a try whose answer was lost is sent again); deliveries still
 * queued when Herald stops are lost. Events are reported by the node that published them;
 * lifecycle notices by the node where the change happened, as only that node knows it.
 */

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { anyChannelMatches, channelMatches } from "@herald/protocol";
import type { LifecycleKind, WebhookConfig, WebhookSinkConfig } from "../config/integrations-schema.js";
import type { StreamEvent } from "../engine/engine.js";
import type { ChannelChange, PresenceChange } from "../hub/hub-listeners.js";
import { RetryQueue } from "./retry-queue.js";
import { signWebhook } from "./webhook-signature.js";
import { eventContext } from "./email.js";

interface Delivery {
  readonly id: string;
  readonly kind: string;
  readonly channel: string;
  readonly body: string;
}

export interface DeadLetter {
  readonly url: string;
  readonly id: string;
  readonly kind: string;
  readonly channel: string;
  readonly attempts: number;
  readonly error: string;
  readonly at: string;
}

interface Endpoint {
  readonly config: WebhookConfig;
  readonly queue: RetryQueue<Delivery>;
  readonly wantsEvent: (event: StreamEvent) => boolean;
  readonly lifecycle: ReadonlySet<LifecycleKind>;
  readonly lifecycleChannel: (channel: string) => boolean;
  delivered: number;
  retries: number;
  deadLettered: number;
}

export class WebhookSink {
  private readonly endpoints: Endpoint[];
  private readonly deadLetters: DeadLetter[] = [];

  constructor(
    private readonly config: WebhookSinkConfig,
    private readonly node: string,
    private readonly logger: Logger,
  ) {
    this.endpoints = config.endpoints.map((endpoint) => this.endpoint(endpoint));
  }

  /** True when some endpoint wants lifecycle notices (so the hub's channel/presence listeners are worth adding). */
  get wantsLifecycle(): boolean {
    return this.endpoints.some((endpoint) => endpoint.lifecycle.size > 0);
  }

  get wantsEvents(): boolean {
    return this.endpoints.some((endpoint) => endpoint.config.on !== undefined);
  }

  observe(event: StreamEvent): void {
    let body: string | undefined;
    let id = "";
    for (const endpoint of this.endpoints) {
      if (!endpoint.wantsEvent(event)) continue;
      if (body === undefined) {
        id = randomUUID();
        body = JSON.stringify({ kind: "event", id, node: this.node, event: eventContext(event) });
      }
      this.enqueue(endpoint, { id, kind: "event", channel: event.channel, body });
    }
  }

  observeChannel(change: ChannelChange): void {
    this.lifecycle(change.occupied ? "channel.occupied" : "channel.vacated", change.channel, {});
  }

  observePresence(change: PresenceChange): void {
    const extra = change.user === undefined ? { connectionId: change.connectionId } : { connectionId: change.connectionId, user: change.user };
    this.lifecycle(change.joined ? "presence.join" : "presence.leave", change.channel, extra);
  }

  idle(): Promise<void> {
    return Promise.all(this.endpoints.map((endpoint) => endpoint.queue.idle())).then(() => undefined);
  }

  stop(): void {
    for (const endpoint of this.endpoints) endpoint.queue.stop();
  }

  status(): { endpoints: Array<{ url: string; delivered: number; retries: number; deadLettered: number; queued: number }>; deadLetters: DeadLetter[] } {
    return {
      endpoints: this.endpoints.map((e) => ({ url: e.config.url, delivered: e.delivered, retries: e.retries, deadLettered: e.deadLettered, queued: e.queue.size })),
      deadLetters: [...this.deadLetters],
    };
  }

  private lifecycle(kind: LifecycleKind, channel: string, extra: Record<string, unknown>): void {
    let body: string | undefined;
    let id = "";
    for (const endpoint of this.endpoints) {
      if (!endpoint.lifecycle.has(kind) || !endpoint.lifecycleChannel(channel)) continue;
      if (body === undefined) {
        id = randomUUID();
        body = JSON.stringify({ kind, id, node: this.node, channel, ...extra, timestamp: new Date().toISOString() });
      }
      this.enqueue(endpoint, { id, kind, channel, body });
    }
  }

  private enqueue(endpoint: Endpoint, delivery: Delivery): void {
    if (!endpoint.queue.push(delivery)) this.deadLetter(endpoint, delivery, 0, `queue full (${this.config.maxQueue} waiting)`);
  }

  private deadLetter(endpoint: Endpoint, delivery: Delivery, attempts: number, error: string): void {
    endpoint.deadLettered += 1;
    this.logger.warn({ sink: "webhook", url: endpoint.config.url, kind: delivery.kind, channel: delivery.channel, attempts, err: error }, "webhook dead-lettered");
    if (this.config.deadLetters === 0) return;
    this.deadLetters.push({ url: endpoint.config.url, id: delivery.id, kind: delivery.kind, channel: delivery.channel, attempts, error, at: new Date().toISOString() });
    if (this.deadLetters.length > this.config.deadLetters) this.deadLetters.shift();
  }

  private endpoint(config: WebhookConfig): Endpoint {
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
      queue: new RetryQueue<Delivery>({
        attempts: config.attempts,
        retryDelay: config.retryDelay,
        maxQueue: this.config.maxQueue,
        concurrency: 1,
        ordered: true,
        run: (delivery, attempt) => this.post(config, delivery, attempt),
        onSuccess: () => {
          endpoint.delivered += 1;
        },
        onRetry: (delivery, error, attempt) => {
          endpoint.retries += 1;
          this.logger.debug({ sink: "webhook", url: config.url, kind: delivery.kind, attempt, err: error.message }, "webhook try failed; will retry");
        },
        onGiveUp: (delivery, error, attempts) => this.deadLetter(endpoint, delivery, attempts, error.message),
      }),
    };
    return endpoint;
  }

  private async post(config: WebhookConfig, delivery: Delivery, attempt: number): Promise<void> {
    const response = await fetch(config.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Herald-Webhooks",
        "herald-delivery": delivery.id,
        "herald-event": delivery.kind,
        "herald-attempt": String(attempt),
        "herald-signature": signWebhook(config.secret, delivery.body),
      },
      body: delivery.body,
      signal: AbortSignal.timeout(config.timeout),
    });
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status < 200 || response.status >= 300) throw new Error(`HTTP ${response.status}`);
  }
}
