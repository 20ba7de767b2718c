/**
 * Wires the configured sources and sinks to a hub: the Postgres outbox (whenever a database URL
 * is set), upstream bridges, and the email and webhook sinks. Herald starts it after the engine
 * and stops it before the engine, so sources never publish into a closed engine.
 */

import type { Logger } from "pino";
import type { HeraldConfig } from "../config/schema.js";
import type { Hub } from "../hub/hub.js";
import { PostgresSource } from "../sources/postgres-outbox.js";

export class Integrations {
  readonly postgres: PostgresSource | undefined;

  constructor(
    config: HeraldConfig,
    private readonly hub: Hub,
    private readonly logger: Logger,
  ) {
    const pgConfig = config.sources.postgres;
    this.postgres = pgConfig.url
      ? new PostgresSource({ ...pgConfig, url: pgConfig.url }, (channel, type, data) => hub.publish(channel, type, data), logger.child({ source: "postgres" }))
      : undefined;
  }

  async start(): Promise<void> {
    await this.postgres?.start();
  }

  async stop(): Promise<void> {
    await this.postgres?.stop();
  }

  /** What /api/status shows under `integrations`. */
  status(): Record<string, unknown> {
    return {
      postgres: this.postgres?.status() ?? null,
    };
  }
}
