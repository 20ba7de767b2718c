/**
 * The engine keys and entry kinds that Pusher occupancy (occupancy.ts) keeps, shared with the
 * node that reports what a dead node left behind (left-behind.ts). `#` keeps every key apart from
 * valid channel names.
 */

import type { PresenceEntry } from "../engine/engine.js";
import type { PusherApp } from "./apps.js";
import { PUSHER_TRANSPORT } from "./members.js";

/** The transport of an entry whose subscription left less than leaveDelay ago. */
export const LEAVING_TRANSPORT = "pusher-leaving";

/** Entries that keep a channel occupied for webhooks: live subscriptions and ones leaving. */
export function counted(entry: PresenceEntry): boolean {
  return entry.transport === PUSHER_TRANSPORT || entry.transport === LEAVING_TRANSPORT;
}

/** The engine key of the nodes holding a channel's Pusher subscribers. */
export function nodesOf(channel: string): string {
  return `#pusher-nodes:${channel}`;
}

/** The engine key of an app's channel index. */
export function indexOf(app: PusherApp): string {
  return `#pusher-channels:${app.id}`;
}
