/**
 * Pusher channel names, their kinds, and where each lives in Herald.
 *
 * Pusher allows `A-Z a-z 0-9 _ - = @ , . ;` (up to 200 characters); Herald's channel names allow
 * all of these but `;`, and `+ : /` besides. So the Herald channel of Pusher channel `name` in an
 * app is `<namespace><kind suffix>:<name with ; written +>`: `+` never occurs in a Pusher name, so
 * the mapping is one-to-one and reads back. The kind suffix (`-private` for `private-…`,
 * `-presence` for `presence-…`, none for public channels) puts each kind in a Herald namespace of
 * its own, so a deployment can give Herald clients rules, history and limits per kind.
 *
 *   pusher `orders`                 -> herald `pusher-<id>:orders`
 *   pusher `private-user.42`        -> herald `pusher-<id>-private:private-user.42`
 *   pusher `presence-room;1`        -> herald `pusher-<id>-presence:presence-room+1`
 */

import type { PusherApp } from "./apps.js";

export type ChannelKind = "public" | "private" | "presence";

export const MAX_PUSHER_CHANNEL_LENGTH = 200;
const PUSHER_CHANNEL = /^[A-Za-z0-9_\-=@,.;]+$/;

/** What is wrong with a Pusher channel name, or undefined when it is valid. */
export function pusherChannelProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "channel must be a non-empty string";
  if (name.length > MAX_PUSHER_CHANNEL_LENGTH) return `channel is ${name.length} characters long; the limit is ${MAX_PUSHER_CHANNEL_LENGTH}`;
  if (!PUSHER_CHANNEL.test(name)) return "channel may contain only letters, digits and _ - = @ , . ;";
  return undefined;
}

export function channelKind(name: string): ChannelKind {
  if (name.startsWith("presence-")) return "presence";
  if (name.startsWith("private-")) return "private";
  return "public";
}

const SUFFIX: Record<ChannelKind, string> = { public: "", private: "-private", presence: "-presence" };

/** The Herald channel of a valid Pusher channel name. */
export function heraldChannel(app: PusherApp, name: string): string {
  return `${app.namespace}${SUFFIX[channelKind(name)]}:${name.replaceAll(";", "+")}`;
}

/** The Pusher name of a Herald channel of this app, or undefined when it is not one. */
export function pusherChannel(app: PusherApp, channel: string): string | undefined {
  const colon = channel.indexOf(":");
  if (colon === -1) return undefined;
  const name = channel.slice(colon + 1).replaceAll("+", ";");
  if (pusherChannelProblem(name) !== undefined) return undefined;
  return channel.slice(0, colon) === `${app.namespace}${SUFFIX[channelKind(name)]}` ? name : undefined;
}
