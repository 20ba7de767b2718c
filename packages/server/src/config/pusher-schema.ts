/**
 * The settings of the Pusher front door (see docs/pusher.md): the apps whose key, secret and id
 * existing Pusher clients and server SDKs already carry, and the heartbeat the Pusher protocol
 * announces. Kept apart from schema.ts, which mounts it under `pusher`.
 *
 * Each app is isolated: its channels live in Herald namespaces of their own (`namespace`,
 * `namespace-private`, `namespace-presence`), so two apps never share a channel.
 */

import { z } from "zod";
import { duration, size } from "./units.js";

// App ids and namespaces become parts of Herald channel names, so they keep to a safe subset.
const NAME = /^[A-Za-z0-9_.-]+$/;

/** The webhooks Pusher sends, each of which an app's webhook URL may ask for. */
export const pusherWebhookEvents = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"] as const;

const webhookSchema = z.strictObject({
  url: z.string().url(),
  /** The webhooks this URL gets; default all. */
  events: z.array(z.enum(pusherWebhookEvents)).min(1).default([...pusherWebhookEvents]),
  /** Tries before a POST is dead-lettered. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** Base delay before a retry; it doubles per try, with jitter. */
  retryDelay: duration("1s"),
  /** Per-try timeout. */
  timeout: duration("10s"),
});

const appSchema = z.strictObject({
  /** The app id the server SDKs put in `/apps/{id}/…`. */
  id: z.string().min(1).max(30).regex(NAME, "pusher app ids may contain only letters, digits and _ . -"),
  /** The public key clients connect with (`/app/{key}`) and requests are signed with. */
  key: z.string().min(1).max(100).regex(NAME, "pusher app keys may contain only letters, digits and _ . -"),
  /** Signs channel authorizations and HTTP API requests; never sent anywhere. */
  secret: z.string().min(16, "a pusher app secret must be at least 16 characters"),
  /** Whether clients may send `client-*` events on private and presence channels. */
  clientEvents: z.boolean().default(false),
  /** Client events one connection may send per second; more are refused with 4301. */
  clientEventsPerSecond: z.number().int().min(1).default(10),
  /** Largest event `data`, from the HTTP API or a client event (Pusher's limit is 10 KB). */
  maxEventBytes: size("10KiB"),
  /** Distinct users a presence channel may hold (Pusher's limit is 100). */
  maxPresenceMembers: z.number().int().min(1).default(100),
  /** Connections this app may hold on one node; more are refused with 4004. Default: no limit of its own. */
  maxConnections: z.number().int().min(1).optional(),
  /** false refuses the app's connections with 4003 and its API requests with 403. */
  enabled: z.boolean().default(true),
  /** Browser origins this app's connections may come from (others: 4009); default any that security.allowedOrigins lets in. */
  allowedOrigins: z.array(z.string()).optional(),
  /** The Herald namespace of the app's public channels (private and presence ones add -private / -presence). Default `pusher-<id>`. */
  namespace: z.string().min(1).max(40).regex(NAME, "a pusher namespace may contain only letters, digits and _ . -").optional(),
  /** URLs the app's webhooks are POSTed to, signed with its key and secret as Pusher signs them. */
  webhooks: z.array(webhookSchema).default([]),
});

export const pusherSchema = z
  .strictObject({
    apps: z.array(appSchema).default([]),
    /** Sent to clients in connection_established: after this long without traffic a client pings, and so does the server. */
    activityTimeout: duration("120s"),
    /** How long the server waits for the pong to its ping before it closes with 4201. */
    pongTimeout: duration("30s"),
    /**
     * How long after the last connection left a channel (or the last connection of a user left a
     * presence channel) channel_vacated (member_removed) waits; a connection that comes back
     * within it (a page reload) makes neither, nor a new channel_occupied (member_added).
     */
    leaveDelay: duration("3s"),
  })
  .prefault({})
  .superRefine((pusher, ctx) => {
    const seen = new Set<string>();
    const claim = (kind: string, value: string, path: (string | number)[]): void => {
      if (seen.has(`${kind}:${value}`)) ctx.addIssue({ code: "custom", path, message: `${kind} "${value}" is used by two pusher apps; each app needs its own` });
      seen.add(`${kind}:${value}`);
    };
    pusher.apps.forEach((app, index) => {
      claim("app id", app.id, ["apps", index, "id"]);
      claim("app key", app.key, ["apps", index, "key"]);
      const namespace = app.namespace ?? `pusher-${app.id}`;
      for (const suffix of ["", "-private", "-presence", "-user"]) claim("namespace", `${namespace}${suffix}`, ["apps", index, "namespace"]);
    });
  });

export type PusherConfig = z.output<typeof pusherSchema>;
export type PusherAppConfig = PusherConfig["apps"][number];
