/**
 * Pusher's webhooks, in Pusher's format: a POST of `{"time_ms", "events": [...]}` to each of an
 * app's webhook URLs, with `X-Pusher-Key` (the app key) and `X-Pusher-Signature` (the hex
 * HMAC-SHA256 of the body with the app secret), which the Pusher server SDKs' webhook helpers
 * verify. Events reported on this node within BATCH_WINDOW go out in one POST (at most
 * MAX_BATCH), as Pusher batches them.
 *
 * The POSTs are carried by the sinks' delivery queues (the wiring passes an outlet per URL): the
 * same retries, dead letters and store (durable on Redis) as Herald's own webhooks. Which node
 * reports which event (once, cluster-wide) is decided by occupancy.ts and client-events.ts.
 */

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { PusherApp, PusherApps } from "./apps.js";
import { sign } from "./signatures.js";

export type PusherWebhookEvent =
  | { readonly name: "channel_occupied" | "channel_vacated" | "cache_miss"; readonly channel: string }
  | { readonly name: "member_added" | "member_removed"; readonly channel: string; readonly user_id: string }
  | { readonly name: "client_event"; readonly channel: string; readonly event: string; readonly data: string; readonly socket_id: string; readonly user_id?: string };

export type PusherWebhookName = PusherWebhookEvent["name"];

/** Where one URL's POSTs are queued; resolves once stored. */
export interface WebhookOutlet {
  add(id: string, headers: Record<string, string>, body: string): Promise<void>;
}

export interface WebhookTarget {
  readonly url: string;
  readonly events: readonly PusherWebhookName[];
  readonly attempts: number;
  readonly retryDelay: number;
  readonly timeout: number;
}

/** Makes the outlet of one of an app's webhook URLs (the wiring builds it on the sinks' store). */
export type WebhookOutlets = (app: PusherApp, target: WebhookTarget, index: number) => WebhookOutlet;

const BATCH_WINDOW = 50;
const MAX_BATCH = 100;

interface Target {
  readonly app: PusherApp;
  readonly events: ReadonlySet<PusherWebhookName>;
  readonly outlet: WebhookOutlet;
  pending: PusherWebhookEvent[];
  timer: NodeJS.Timeout | undefined;
}

export class PusherWebhooks {
  private readonly byApp = new Map<PusherApp, Target[]>();
  private readonly sending = new Set<Promise<void>>();

  constructor(
    apps: PusherApps,
    outlets: WebhookOutlets | undefined,
    private readonly logger: Logger,
  ) {
    if (!outlets) return;
    for (const app of apps.all()) {
      const targets = app.webhooks.map((target, index): Target => ({ app, events: new Set(target.events), outlet: outlets(app, target, index), pending: [], timer: undefined }));
      if (targets.length > 0) this.byApp.set(app, targets);
    }
  }

  /** Whether some URL of the app wants `name` (or, without a name, any webhook). */
  wants(app: PusherApp, name?: PusherWebhookName): boolean {
    const targets = this.byApp.get(app);
    return targets !== undefined && (name === undefined || targets.some((target) => target.events.has(name)));
  }

  /** Queues `event` for the app's URLs that want it; sent with the others of its batch. */
  report(app: PusherApp, event: PusherWebhookEvent): void {
    for (const target of this.byApp.get(app) ?? []) {
      if (!target.events.has(event.name)) continue;
      target.pending.push(event);
      if (target.pending.length >= MAX_BATCH) this.flush(target);
      else target.timer ??= setTimeout(() => this.flush(target), BATCH_WINDOW);
    }
  }

  /** Sends what waits in a batch now, and resolves once every batch is stored (shutdown, tests). */
  async drain(): Promise<void> {
    for (const targets of this.byApp.values()) for (const target of targets) this.flush(target);
    await Promise.all([...this.sending]);
  }

  private flush(target: Target): void {
    clearTimeout(target.timer);
    target.timer = undefined;
    const events = target.pending.splice(0);
    if (events.length === 0) return;
    const body = JSON.stringify({ time_ms: Date.now(), events });
    const headers = { "x-pusher-key": target.app.key, "x-pusher-signature": sign(target.app.secret, body) };
    const stored = target.outlet.add(randomUUID(), headers, body).catch((error: unknown) => {
      this.logger.error({ app: target.app.id, events: events.length, err: (error as Error).message }, "pusher webhook not queued: the delivery store failed");
    });
    this.sending.add(stored);
    void stored.finally(() => this.sending.delete(stored));
  }
}
