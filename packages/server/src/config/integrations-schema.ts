/**
 * Configuration of the integrations: sources that feed events in (Postgres outbox, upstream
 * bridges) and sinks that carry them out (email, webhooks). Kept apart from schema.ts so that the
 * core schema stays short; schema.ts mounts these under `sources`, `bridges` and `sinks`.
 * docs/integrations.md documents every key.
 */

import { z } from "zod";
import { duration, optionalDuration } from "./units.js";

const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, "write a table as name or schema.name (letters, digits, _)");
const operation = z.enum(["insert", "update", "delete"]);

export const pgTableSchema = z.strictObject({
  /** Table whose changes are published, `name` or `schema.name`. */
  table: sqlName,
  /** Channel template; `{column}` is replaced by the row's value, e.g. `user:{polygon_address}`. */
  channel: z.string().min(1),
  /** Event type of each change, e.g. `cas_deposit_update`. */
  type: z.string().min(1),
  /** Columns carried in the event (default: the whole row). */
  columns: z.array(z.string().min(1)).optional(),
  /** Columns whose values tag each event (tag name = column name; a NULL leaves its tag out), for subscribers' tag filters. */
  tags: z.array(z.string().min(1)).max(16).optional(),
  /** Operations captured. Default: all three. */
  on: z.array(operation).min(1).default(["insert", "update", "delete"]),
});

export const postgresSourceSchema = z
  .strictObject({
    /** postgres:// URL; DATABASE_URL sets it. Herald drains the outbox whenever it is set. */
    url: z.string().optional(),
    /** Outbox table name (also the NOTIFY channel). Default herald_outbox. */
    outbox: z.string().regex(/^[a-z_][a-z0-9_]*$/, "the outbox name takes lower-case letters, digits and _").default("herald_outbox"),
    /** Triggers installed (or updated) at start. */
    tables: z.array(pgTableSchema).default([]),
    /** Rows published per drain transaction. Default 500. */
    batchSize: z.number().int().min(1).max(10_000).default(500),
    /** Safety-net drain when no NOTIFY arrives. Default 5s. */
    pollInterval: duration("5s"),
    /** Published rows are kept this long (for `herald pg status` and debugging), then deleted. Default 1h. */
    retention: duration("1h"),
  })
  .prefault({});

const bridgeMapSchema = z.strictObject({
  /** websocket: fields that must equal these values (dot paths); socket.io: the event name. */
  match: z.union([z.string().min(1), z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))]),
  /** Channel template over the message: `{field.path}`, `{event}` (socket.io). */
  channel: z.string().min(1),
  /** Event type template, or a field path in braces, e.g. `{e}` or `order_update`. */
  type: z.string().min(1),
  /** Path of the part of the message published as data (default: the whole message). */
  data: z.string().optional(),
  /** Tags of each event, templates over the message like `channel` (`{o.s}`); a tag whose field is missing is left out. */
  tags: z.record(z.string(), z.string()).optional(),
});

export const bridgeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "bridge names take letters, digits, _ . -"),
  url: z.string().url(),
  protocol: z.enum(["websocket", "socket.io"]).default("websocket"),
  /** Frames sent after each connect: objects are sent as JSON (websocket) or as [event, ...args] arrays (socket.io). */
  subscribe: z.array(z.unknown()).default([]),
  map: z.array(bridgeMapSchema).min(1),
  /** Channel patterns (`*` matches anything) whose subscribers make the bridge connect. */
  channels: z.array(z.string().min(1)).default([]),
  /** Connect at start and stay connected, instead of only while subscribers are present. Default false. */
  eager: z.boolean().default(false),
  /** How long the bridge stays connected after its last subscriber left. Default 2s. */
  linger: duration("2s"),
});

const ruleMatchSchema = z.strictObject({
  /** Channel pattern; `*` matches anything. */
  channel: z.string().min(1).default("*"),
  /** Event types; empty or absent means all. */
  types: z.array(z.string().min(1)).optional(),
});

export const emailRuleSchema = z
  .strictObject({
    on: ruleMatchSchema,
    /** Recipient template, e.g. `{data.email}`. */
    to: z.string().optional(),
    /** URL template fetched with GET that answers {"email": "..."} (used when `to` is absent). */
    lookup: z.string().optional(),
    subject: z.string().min(1),
    text: z.string().optional(),
    html: z.string().optional(),
    /** Send only if the event's user has not acknowledged it this long after it was published (receipts; docs/delivery.md). */
    unseen: optionalDuration,
    /** The event's user for `unseen`, a template (default: the channel after its namespace, `bets:alice` → alice). */
    user: z.string().min(1).optional(),
  })
  .refine((rule) => rule.to !== undefined || rule.lookup !== undefined, "an email rule needs `to` or `lookup`")
  .refine((rule) => rule.text !== undefined || rule.html !== undefined, "an email rule needs `text` or `html`");

export const emailSinkSchema = z
  .strictObject({
    smtp: z
      .strictObject({
        /** SMTP_SERVER */
        host: z.string().optional(),
        /** SMTP_PORT; default 587. 465 means implicit TLS. */
        port: z.number().int().min(1).max(65_535).default(587),
        /** Use implicit TLS; default: true on port 465 only. */
        secure: z.boolean().optional(),
        /** SMTP_USERNAME / SMTP_PASSWORD; no auth when absent. */
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    from: z
      .strictObject({
        /** FROM_EMAIL */
        email: z.string().optional(),
        /** FROM_NAME */
        name: z.string().optional(),
      })
      .prefault({}),
    rules: z.array(emailRuleSchema).default([]),
    /** Attempts per email before it is given up (and counted as failed). Default 4. */
    attempts: z.number().int().min(1).max(20).default(4),
    /** Base delay before a retry; it doubles per try, with jitter. Default 1s. */
    retryDelay: duration("1s"),
    /** Emails waiting at most; beyond it new ones are dropped and counted. Default 1000. */
    maxQueue: z.number().int().min(1).default(1000),
    /** Given-up emails kept for /api/status and the dashboard, where they can be retried. Default 100. */
    deadLetters: z.number().int().min(0).max(10_000).default(100),
  })
  .prefault({});

export const lifecycleKind = z.enum(["channel.occupied", "channel.vacated", "presence.join", "presence.leave", "user.online", "user.offline"]);

export const webhookSchema = z.strictObject({
  url: z.string().url(),
  /** HMAC-SHA256 key for the Herald-Signature header. */
  secret: z.string().min(16, "webhook secrets must be at least 16 characters"),
  /** Events to send: channel pattern and types. Absent: no events, only lifecycle. */
  on: ruleMatchSchema.optional(),
  /** POST an event only if its user has not acknowledged it this long after it was published (receipts; docs/delivery.md). */
  unseen: optionalDuration,
  /** The event's user for `unseen`, a template (default: the channel after its namespace). */
  user: z.string().min(1).optional(),
  /** Lifecycle notices to send, for channels matching `channels` (user.online and user.offline name no channel: always sent). */
  lifecycle: z.array(lifecycleKind).default([]),
  /** Channel patterns for lifecycle notices. Default: all. */
  channels: z.array(z.string().min(1)).default(["*"]),
  /** Attempts before the delivery is dead-lettered. Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** Base delay before a retry; it doubles per try, with jitter. Default 1s. */
  retryDelay: duration("1s"),
  /** Per-attempt timeout. Default 10s. */
  timeout: duration("10s"),
});

export const webhookSinkSchema = z
  .strictObject({
    endpoints: z.array(webhookSchema).default([]),
    /** Failed deliveries kept per endpoint for /api/status and the dashboard, where they can be retried. Default 100. */
    deadLetters: z.number().int().min(0).max(10_000).default(100),
    /** Deliveries waiting at most per endpoint; beyond it new ones are dead-lettered. Default 10000. */
    maxQueue: z.number().int().min(1).default(10_000),
  })
  .prefault({});

export const deliveryStoreSchema = z
  .strictObject({
    /**
     * Where deliveries wait: `auto` (Redis with the Redis engine, else memory), `memory` (lost at
     * a stop), `redis` (engine.redisUrl) or `postgres` (sources.postgres.url).
     */
    store: z.enum(["auto", "memory", "redis", "postgres"]).default("auto"),
    /** A node that stops answering keeps a delivery this long before another node takes it over. Default 30s. */
    lockDuration: duration("30s"),
    /** The PostgreSQL schema of the `postgres` store. Default herald_sinks. */
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, "the schema name takes lower-case letters, digits and _").default("herald_sinks"),
  })
  .prefault({});

export const sourcesSchema = z.strictObject({ postgres: postgresSourceSchema }).prefault({});
export const sinksSchema = z.strictObject({ email: emailSinkSchema, webhooks: webhookSinkSchema, queue: deliveryStoreSchema }).prefault({});

export type PgTableConfig = z.output<typeof pgTableSchema>;
export type PostgresSourceConfig = z.output<typeof postgresSourceSchema>;
export type BridgeConfig = z.output<typeof bridgeSchema>;
export type EmailSinkConfig = z.output<typeof emailSinkSchema>;
export type EmailRule = z.output<typeof emailRuleSchema>;
export type WebhookSinkConfig = z.output<typeof webhookSinkSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;
export type DeliveryStoreConfig = z.output<typeof deliveryStoreSchema>;
export type LifecycleKind = z.output<typeof lifecycleKind>;
