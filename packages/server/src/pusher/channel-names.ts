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
 *   pusher `#server-to-user-7`      -> herald `pusher-<id>-user:7`
 *
 * `#server-to-user-<user id>` is the channel of a signed-in user (pusher:signin); the user id keeps
 * to the characters of Pusher names, so it maps as they do.
 */

import type { PusherApp } from "./apps.js";

export type ChannelKind = "public" | "private" | "presence" | "user";

export const SERVER_TO_USER = "#server-to-user-";

export const MAX_PUSHER_CHANNEL_LENGTH = 200;
const PUSHER_CHANNEL = /^[A-Za-z0-9_\-=@,.;]+$/;

/** What is wrong with a Pusher channel name, or undefined when it is valid. */
export function pusherChannelProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "channel must be a non-empty string";
  if (name.length > MAX_PUSHER_CHANNEL_LENGTH) return `channel is ${name.length} characters long; the limit is ${MAX_PUSHER_CHANNEL_LENGTH}`;
  if (name.startsWith(SERVER_TO_USER)) return userIdProblem(name.slice(SERVER_TO_USER.length));
  if (!PUSHER_CHANNEL.test(name)) return "channel may contain only letters, digits and _ - = @ , . ;";
  return undefined;
}

/** What is wrong with a signed-in user's id, or undefined when it is valid. */
export function userIdProblem(id: unknown): string | undefined {
  if (typeof id !== "string" || id.length === 0) return "a user id must be a non-empty string";
  if (id.length > MAX_PUSHER_CHANNEL_LENGTH - SERVER_TO_USER.length) return `a user id is at most ${MAX_PUSHER_CHANNEL_LENGTH - SERVER_TO_USER.length} characters`;
  if (!PUSHER_CHANNEL.test(id)) return "a user id may contain only letters, digits and _ - = @ , . ;";
  return undefined;
}

export function channelKind(name: string): ChannelKind {
  if (name.startsWith(SERVER_TO_USER)) return "user";
  if (name.startsWith("presence-")) return "presence";
  if (name.startsWith("private-")) return "private";
  return "public";
}

/** Cache channels: a new subscriber first gets the channel's last event (or pusher:cache_miss). */
export function isCacheChannel(name: string): boolean {
  return /^(private-|presence-)?cache-/.test(name);
}

const SUFFIX: Record<ChannelKind, string> = { public: "", private: "-private", presence: "-presence", user: "-user" };

/** The Herald channel of a valid Pusher channel name. */
export function heraldChannel(app: PusherApp, name: string): string {
  const kind = channelKind(name);
  const local = kind === "user" ? name.slice(SERVER_TO_USER.length) : name;
  return `${app.namespace}${SUFFIX[kind]}:${local.replaceAll(";", "+")}`;
}

/** The Pusher name of a Herald channel of this app, or undefined when it is not one. */
export function pusherChannel(app: PusherApp, channel: string): string | undefined {
  const colon = channel.indexOf(":");
  if (colon === -1) return undefined;
  const local = channel.slice(colon + 1).replaceAll("+", ";");
  const name = channel.slice(0, colon) === `${app.namespace}${SUFFIX.user}` ? `${SERVER_TO_USER}${local}` : local;
  if (pusherChannelProblem(name) !== undefined) return undefined;
  return channel.slice(0, colon) === `${app.namespace}${SUFFIX[channelKind(name)]}` ? name : undefined;
}
