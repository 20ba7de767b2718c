/**
 * Wires the configured sources and sinks to a hub: the Postgres outbox (whenever a database URL
 * is set), upstream bridges, and the email and webhook sinks. Herald starts it after the engine
 * and stops it before the engine, so sources never publish into a closed engine.
 */

import type { Logger } from "pino";
import type { HeraldConfig } from "../config/schema.js";
import type { Hub } from "../hub/hub.js";
import { PostgresSource } from "../sources/postgres-outbox.js";
import { EmailSink } from "../sinks/email.js";
import { WebhookSink } from "../sinks/webhooks.js";
import { Bridge } from "../sources/bridge.js";
import { HeraldError } from "../shared/herald-error.js";

export class Integrations {
  readonly postgres: PostgresSource | undefined;
  readonly email: EmailSink | undefined;
  readonly webhooks: WebhookSink | undefined;
  readonly bridges: Bridge[];
  private readonly unlisten: Array<() => void> = [];

  constructor(
    config: HeraldConfig,
    private readonly hub: Hub,
    private readonly logger: Logger,
    node: string,
  ) {
    const pgConfig = config.sources.postgres;
    this.postgres = pgConfig.url
      ? new PostgresSource({ ...pgConfig, url: pgConfig.url }, (channel, type, data) => hub.publish(channel, type, data), logger.child({ source: "postgres" }))
      : undefined;
    const emailConfig = config.sinks.email;
    if (emailConfig.rules.length > 0) {
      const host = emailConfig.smtp.host;
      if (!host) throw new HeraldError("invalid_config", "invalid configuration: sinks.email.rules need an SMTP server; set SMTP_SERVER or sinks.email.smtp.host");
      this.email = new EmailSink({ ...emailConfig, smtp: { ...emailConfig.smtp, host } }, logger.child({ sink: "email" }));
    }
    this.bridges = config.bridges.map(
      (bridge) => new Bridge(bridge, (channel, type, data) => hub.publish(channel, type, data), logger.child({ source: "bridge", bridge: bridge.name })),
    );
    if (config.sinks.webhooks.endpoints.length > 0) this.webhooks = new WebhookSink(config.sinks.webhooks, node, logger.child({ sink: "webhook" }));
  }

  async start(): Promise<void> {
    const email = this.email;
    if (email) this.unlisten.push(this.hub.listeners.on("published", (event) => email.observe(event)));
    const webhooks = this.webhooks;
    if (webhooks?.wantsEvents) this.unlisten.push(this.hub.listeners.on("published", (event) => webhooks.observe(event)));
    if (webhooks?.wantsLifecycle) {
      this.unlisten.push(this.hub.listeners.on("channel", (change) => webhooks.observeChannel(change)));
      this.unlisten.push(this.hub.listeners.on("presence", (change) => webhooks.observePresence(change)));
    }
    if (this.bridges.length > 0) {
      this.unlisten.push(this.hub.listeners.on("channel", (change) => this.bridges.forEach((bridge) => bridge.observeChannel(change))));
      for (const bridge of this.bridges) bridge.start();
    }
    await this.postgres?.start();
  }

  async stop(): Promise<void> {
    await this.postgres?.stop();
    await Promise.all(this.bridges.map((bridge) => bridge.stop()));
    for (const off of this.unlisten.splice(0)) off();
    this.email?.stop();
    this.webhooks?.stop();
  }

  /** What /api/status shows under `integrations`. */
  status(): Record<string, unknown> {
    return {
      postgres: this.postgres?.status() ?? null,
      email: this.email?.status() ?? null,
      webhooks: this.webhooks?.status() ?? null,
      bridges: this.bridges.map((bridge) => bridge.status()),
    };
  }
}
