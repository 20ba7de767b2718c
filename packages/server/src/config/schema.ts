/**
 * The configuration schema: every key, its type and its default. The config file (JSON or YAML)
 * and the HERALD_* environment variables both pass through it, so a bad key or value stops the
 * start with one line that names it. `docs/configuration.md` documents each key.
 */

import { z } from "zod";
import { duration, optionalDuration, size } from "./units.js";
import { engineSchema } from "./engine-schema.js";
import { bridgeSchema, sinksSchema, sourcesSchema } from "./integrations-schema.js";
import { ClientAddress } from "../shared/client-address.js";
import { authSchema, hmacKeySchema, limitsSchema, securitySchema, websocketSchema } from "./security-schema.js";
import { pusherSchema } from "./pusher-schema.js";

const historySchema = z.strictObject({
  size: z.number().int().min(0).max(1_000_000).optional(),
  ttl: optionalDuration,
});

const namespaceSchema = z.strictObject({
  /** Events kept per channel and for how long. */
  history: historySchema.optional(),
  /** Whether connections to this namespace's channels are listed by /api/presence. */
  presence: z.boolean().optional(),
  /** Whether clients may send `publish` frames to this namespace's channels. */
  clientPublish: z.boolean().optional(),
  /** Whether subscribers acknowledge the events they handled and the hub keeps receipts (docs/delivery.md). */
  receipts: z.boolean().optional(),
  /** Whether a subscriber that brings no `since` first gets the channel's latest retained event (or `cache: "miss"`). */
  cache: z.boolean().optional(),
  /** Who may subscribe: anyone, any authenticated connection, only with a subscription token for the channel, or whom the app's subscribe proxy allows. */
  subscribe: z.enum(["public", "authenticated", "token", "proxy"]).optional(),
  /** Channel `ns:<user>` only for the connection whose token `sub` is <user>. */
  personal: z.boolean().optional(),
});

const paramSchema = z.strictObject({
  pattern: z.string().optional(),
  message: z.string().optional(),
  optional: z.boolean().default(false),
  /** Applied before the pattern check: "lower" | "upper" normalise case. */
  transform: z.enum(["lower", "upper"]).optional(),
});

const envelopeSchema = z.enum(["herald", "event", "flat", "flat-ack"]);

const routeSchema = z.strictObject({
  /** URL path with {name} placeholders, e.g. /api/ws/{address}. */
  path: z.string().startsWith("/"),
  /** Patterns for path placeholders and query parameters, by name. */
  params: z.record(z.string(), paramSchema).default({}),
  /** Channels the connection is subscribed to at once; {name} is replaced by the parameter. */
  subscribe: z.array(z.string()).min(1),
  /** Channels to subscribe to when every `subscribe` template named a parameter the client left out. */
  fallback: z.array(z.string()).default([]),
  /** Parameter that names the connection's user (shown in /api/status and presence). */
  user: z.string().optional(),
  /** How event frames look on this route: herald (default), event (keyed `event`), flat (data spread at top level), flat-ack (flat with channel and offset, to acknowledge). */
  envelope: envelopeSchema.default("herald"),
  /** Whether a route connection may also send subscribe frames for other channels. */
  allowSubscribe: z.boolean().default(true),
  /** Whether the route's validated parameters grant its channels without the namespace's checks (the deployment's choice). */
  grant: z.boolean().default(true),
});

const apiKeySchema = z.union([
  z.string().min(16, "API keys must be at least 16 characters"),
  z.strictObject({ name: z.string().min(1), key: z.string().min(16, "API keys must be at least 16 characters") }),
]);

export const configSchema = z.strictObject({
  port: z.number().int().min(0).max(65_535).default(8080),
  host: z.string().default("0.0.0.0"),
  /**
   * Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / X-Real-IP give the client's address
   * for per-IP limits, logs and status; from other peers those headers are ignored.
   */
  trustProxy: z
    .array(z.string())
    .default([])
    .superRefine((entries, context) => {
      try {
        new ClientAddress(entries);
      } catch (error) {
        context.addIssue({ code: "custom", message: (error as Error).message });
      }
    }),
  /** This node's name in frames, status and logs. Default: hostname-pid. */
  node: z.string().optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  engine: engineSchema,
  pingInterval: duration("25s"),
  idleTimeout: duration("30s"),
  sendQueueBytes: size("1MiB"),
  maxPayload: size("64KiB"),
  maxSubscriptionsPerConnection: z.number().int().min(1).default(256),
  /** How many channels one pattern subscription (`orders:*`) may deliver; see docs/protocol.md#pattern-subscriptions. */
  maxPatternChannels: z.number().int().min(1).max(10_000).default(1000),
  shutdownTimeout: duration("10s"),
  history: z
    .strictObject({
      size: z.number().int().min(0).max(1_000_000).default(100),
      ttl: duration("5m"),
    })
    .prefault({}),
  namespaces: z.record(z.string(), namespaceSchema).default({}),
  routes: z.array(routeSchema).default([]),
  publish: z
    .strictObject({
      apiKeys: z.array(apiKeySchema).default([]),
      maxBodyBytes: size("1MiB"),
      maxBatch: z.number().int().min(1).default(1000),
      /** Keys for HMAC-signed publish requests (X-Herald-Key-Id, X-Herald-Timestamp, X-Herald-Signature). */
      hmacKeys: z.array(hmacKeySchema).default([]),
      /** Signed requests older or newer than this are refused; Idempotency-Key answers are kept this long. */
      replayWindow: duration("600s"),
      /** Most Idempotency-Key answers remembered at once (oldest forgotten first). */
      idempotencyKeys: z.number().int().min(0).default(10_000),
    })
    .prefault({}),
  auth: authSchema,
  security: securitySchema,
  limits: limitsSchema,
  websocket: websocketSchema,
  polling: z
    .strictObject({
      maxTimeout: duration("30s"),
      maxEvents: z.number().int().min(1).default(1000),
    })
    .prefault({}),
  /** Postgres outbox (see integrations-schema.ts and docs/integrations.md). */
  sources: sourcesSchema,
  /** Upstream feeds (websocket / socket.io) mapped onto channels. */
  bridges: z.array(bridgeSchema).default([]),
  /** Email and webhook deliveries of published events. */
  sinks: sinksSchema,
  /** Users online and offline: user_online and user_offline, without flapping (docs/delivery.md). */
  online: z
    .strictObject({
      /**
       * How long a user whose last connection closed stays online waiting for a return, so a reload
       * or a blip makes no event. Default 20s: the client SDK's longest wait between reconnects.
       */
      grace: duration("20s"),
      /** Channel where user_online and user_offline events are published, for dashboards; none when absent. */
      channel: z.string().min(1).optional(),
    })
    .prefault({}),
  /** The Pusher protocol front door: apps, and the heartbeat it announces (see pusher-schema.ts). */
  pusher: pusherSchema,
});

/** The configuration as written by a user (file, env or createHerald options). */
export type HeraldConfigInput = z.input<typeof configSchema>;
/** The validated configuration with every default filled in and durations in milliseconds. */
export type HeraldConfig = z.output<typeof configSchema>;
export type RouteConfig = HeraldConfig["routes"][number];
export type NamespaceConfig = z.output<typeof namespaceSchema>;
export type Envelope = z.output<typeof envelopeSchema>;
