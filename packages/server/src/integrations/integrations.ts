/**
 * Wires the configured sources and sinks to a hub: the Postgres outbox (whenever a database URL
 * is set), upstream bridges, and the email and webhook sinks with the store their deliveries wait
 * in (see sinks/delivery-store.ts). Herald starts it after the engine and stops it first of all,
 * so sources never publish into a closed engine.
 *
 * Sinks hear of an event before its publish is answered (`hub.beforeAnswer`): with a durable store
 * the answer means the deliveries are stored. Stopping: sources stop, the sinks take no new
 * deliveries and finish the ones in flight while the publishes in flight are answered (both within
 * `shutdownTimeout`), and only then are the delivery queues closed.
 */

import type { Logger } from "pino";
import type { HeraldConfig } from "../config/schema.js";
import type { Engine, PublishedEvent } from "../engine/engine.js";
import { UnseenDeadlines } from "../sinks/unseen.js";
import type { Hub } from "../hub/hub.js";
import { PostgresSource } from "../sources/postgres-outbox.js";
import { EmailSink } from "../sinks/email.js";
import { WebhookSink } from "../sinks/webhooks.js";
import { DeliveryStore, type DeliveryStoreKind } from "../sinks/delivery-store.js";
import { PostQueues } from "../sinks/post-queues.js";
import { Bridge } from "../sources/bridge.js";
import { HeraldError } from "../shared/herald-error.js";

/** Which dead letters a retry takes: those of one sink, one webhook endpoint, one delivery; all when empty. */
export interface DeadLetterFilter {
  readonly sink?: "email" | "webhooks" | "pusher";
  readonly url?: string;
  readonly id?: string;
}

// How long starting the delivery store may take (its Redis answered the engine a moment ago).
const STORE_START_TIMEOUT = 15_000;

export class Integrations {
  readonly postgres: PostgresSource | undefined;
  readonly email: EmailSink | undefined;
  readonly webhooks: WebhookSink | undefined;
  readonly bridges: Bridge[];
  /** Deadlines of the `unseen` email rules and webhook endpoints, when some have one. */
  readonly unseen: UnseenDeadlines | undefined;
  /** Where the sinks' deliveries wait. */
  readonly deliveries: DeliveryStore;
  /** The Pusher front door's webhook queues (the wiring adds one per app URL), in the same store. */
  readonly pusherWebhooks: PostQueues;
  private readonly unlisten: Array<() => void> = [];
  private stopSinkHook: (() => void) | undefined;
  private readonly shutdownTimeout: number;
  /** Where user_online and user_offline are published (online.channel). */
  private readonly onlineChannel: string | undefined;

  constructor(
    config: HeraldConfig,
    private readonly hub: Hub,
    private readonly logger: Logger,
    node: string,
    engine: Engine,
  ) {
    this.shutdownTimeout = config.shutdownTimeout;
    this.onlineChannel = config.online.channel;
    const pgConfig = config.sources.postgres;
    this.postgres = pgConfig.url
      ? new PostgresSource({ ...pgConfig, url: pgConfig.url }, (channel, type, data, trace, tags) => hub.publish(channel, type, data, undefined, undefined, trace, tags), logger.child({ source: "postgres" }))
      : undefined;
    this.deliveries = new DeliveryStore({
      kind: deliveryStoreKind(config),
      redis: { url: config.engine.redisUrl, cluster: config.engine.redisCluster, shards: config.engine.redisShards },
      redisPrefix: config.engine.prefix,
      postgresUrl: pgConfig.url,
      postgresSchema: config.sinks.queue.schema,
      lockDuration: config.sinks.queue.lockDuration,
      rememberDelivered: config.publish.replayWindow,
      connectionName: `herald:${node}`,
      logger: logger.child({ sinks: "deliveries" }),
    });
    this.pusherWebhooks = new PostQueues(this.deliveries, config.sinks.webhooks.deadLetters);
    const unseenAfter = [...config.sinks.email.rules.map((rule) => rule.unseen), ...config.sinks.webhooks.endpoints.map((endpoint) => endpoint.unseen)].filter((after) => after !== undefined);
    this.unseen =
      unseenAfter.length === 0
        ? undefined
        : new UnseenDeadlines(engine, hub.receipts, logger.child({ sinks: "unseen" }), {
            leaseMs: config.sinks.queue.lockDuration,
            // Claimed a few times per shortest wait, at least once a second: a deadline is late by a fraction of it.
            sweepIntervalMs: Math.max(50, Math.min(1_000, Math.floor(Math.min(...unseenAfter) / 4))),
          });
    const emailConfig = config.sinks.email;
    if (emailConfig.rules.length > 0) {
      const host = emailConfig.smtp.host;
      if (!host) throw new HeraldError("invalid_config", "invalid configuration: sinks.email.rules need an SMTP server; set SMTP_SERVER or sinks.email.smtp.host");
      this.email = new EmailSink({ ...emailConfig, smtp: { ...emailConfig.smtp, host } }, this.deliveries, logger.child({ sink: "email" }), this.unseen);
    }
    this.bridges = config.bridges.map(
      (bridge) => new Bridge(bridge, (channel, type, data, trace, tags) => hub.publish(channel, type, data, undefined, undefined, trace, tags), logger.child({ source: "bridge", bridge: bridge.name })),
    );
    if (config.sinks.webhooks.endpoints.length > 0) this.webhooks = new WebhookSink(config.sinks.webhooks, node, this.deliveries, logger.child({ sink: "webhook" }), this.unseen);
  }

  async start(): Promise<void> {
    await withTimeout(this.deliveries.start(), STORE_START_TIMEOUT, () => new HeraldError("engine_unavailable", `the ${this.deliveries.kind} store of email and webhook deliveries did not start within ${STORE_START_TIMEOUT / 1000} s`));
    if (this.email || this.webhooks?.wantsEvents) this.stopSinkHook = this.hub.beforeAnswer.add((event) => this.queueDeliveries(event));
    const webhooks = this.webhooks;
    if (webhooks?.wantsLifecycle) {
      this.unlisten.push(this.hub.listeners.on("channel", (change) => webhooks.observeChannel(change)));
      this.unlisten.push(this.hub.listeners.on("presence", (change) => webhooks.observePresence(change)));
    }
    if (webhooks?.wantsUsers) this.unlisten.push(this.hub.listeners.on("user", (change) => webhooks.observeUser(change)));
    const usersChannel = this.onlineChannel;
    if (usersChannel !== undefined) {
      this.unlisten.push(
        this.hub.listeners.on("user", (change) => {
          this.hub.publish(usersChannel, change.online ? "user_online" : "user_offline", { user: change.user, at: change.at }).catch((error: unknown) => {
            this.logger.error({ channel: usersChannel, user: change.user, err: (error as Error).message }, "user online/offline event not published");
          });
        }),
      );
    }
    if (this.bridges.length > 0) {
      this.unlisten.push(this.hub.listeners.on("channel", (change) => this.bridges.forEach((bridge) => bridge.observeChannel(change))));
      for (const bridge of this.bridges) bridge.start();
    }
    await this.postgres?.start();
    this.unseen?.start();
  }

  async stop(): Promise<void> {
    await this.unseen?.stop();
    await this.postgres?.stop();
    await Promise.all(this.bridges.map((bridge) => bridge.stop()));
    for (const off of this.unlisten.splice(0)) off();
    // Publishes already accepted still queue their deliveries while the workers finish what they hold.
    await Promise.all([this.deliveries.stopTaking(this.shutdownTimeout), this.hub.publishes.settled(this.shutdownTimeout)]);
    this.stopSinkHook?.();
    await this.deliveries.close();
    this.email?.close();
  }

  /** What /api/status shows under `integrations`. */
  async status(): Promise<Record<string, unknown>> {
    const [email, webhooks] = await Promise.all([this.email?.status() ?? null, this.webhooks?.status() ?? null]);
    return {
      postgres: this.postgres?.status() ?? null,
      email,
      webhooks,
      bridges: this.bridges.map((bridge) => bridge.status()),
      unseen: this.unseen?.status() ?? null,
      pusherWebhooks: this.pusherWebhooks.size > 0 ? await this.pusherWebhooks.status() : null,
    };
  }

  /** Queues dead letters again with fresh tries; resolves to how many. */
  async retryDeadLetters(filter: DeadLetterFilter = {}): Promise<number> {
    let retried = 0;
    if (this.email && (filter.sink ?? "email") === "email" && filter.url === undefined) retried += await this.email.retry(filter.id);
    if (this.webhooks && (filter.sink ?? "webhooks") === "webhooks") retried += await this.webhooks.retry({ url: filter.url, id: filter.id });
    if ((filter.sink ?? "pusher") === "pusher") retried += await this.pusherWebhooks.retry({ url: filter.url, id: filter.id });
    return retried;
  }

  private queueDeliveries(event: PublishedEvent): Promise<void> | undefined {
    const email = this.email?.observe(event);
    const webhooks = this.webhooks?.wantsEvents ? this.webhooks.observe(event) : undefined;
    if (email === undefined && webhooks === undefined) return undefined;
    return Promise.all([email, webhooks]).then(
      () => undefined,
      (error: unknown) => {
        this.logger.error({ channel: event.channel, offset: event.offset, err: (error as Error).message }, "email and webhook deliveries of a published event could not be queued");
        throw new HeraldError(
          "engine_timeout",
          `the event was stored (${event.channel} #${event.offset}) but its email and webhook deliveries could not be queued; retry with the same Idempotency-Key to queue them`,
          { cause: error, detail: (error as Error).message },
        );
      },
    );
  }
}

/** `auto` follows the engine: deliveries wait where the events live. */
function deliveryStoreKind(config: HeraldConfig): DeliveryStoreKind {
  const store = config.sinks.queue.store;
  if (store === "auto") return config.engine.type === "redis" ? "redis" : "memory";
  if (store === "postgres" && !config.sources.postgres.url) {
    throw new HeraldError("invalid_config", "invalid configuration: sinks.queue.store postgres needs a database; set DATABASE_URL or sources.postgres.url");
  }
  return store;
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, failure: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(failure()), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
