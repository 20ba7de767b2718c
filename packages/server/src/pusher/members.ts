/**
 * Pusher presence members: who a connection says it is (`channel_data`), and how a channel's
 * member list reads (`{presence: {count, ids, hash}}`, one entry per user however many of the
 * user's connections are subscribed).
 */

import type { PresenceEntry } from "../engine/engine.js";
import { HeraldError } from "../shared/herald-error.js";

/** The event types of member changes, as Herald clients see them too. */
export const MEMBER_ADDED = "pusher_internal:member_added";
export const MEMBER_REMOVED = "pusher_internal:member_removed";
/** The `transport` of the engine's presence entries made for Pusher subscriptions. */
export const PUSHER_TRANSPORT = "pusher";

export interface Member {
  /** As the app's authorizer gave it (Laravel gives numbers). */
  readonly userId: string | number;
  /** userId as text: the key members are told apart by. */
  readonly user: string;
  readonly info: unknown;
}

/** Reads a presence subscription's `channel_data`; refuses what names no user. */
export function readMember(channelData: unknown, maxBytes: number): Member {
  if (typeof channelData !== "string") throw new HeraldError("invalid_frame", "a presence channel needs channel_data: JSON with user_id (and user_info)");
  if (Buffer.byteLength(channelData) > maxBytes) throw new HeraldError("payload_too_large", `channel_data is larger than ${maxBytes} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    throw new HeraldError("invalid_json", "channel_data is not valid JSON");
  }
  const { user_id: userId, user_info: info } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const valid = (typeof userId === "string" && userId.length > 0 && userId.length <= 128) || (typeof userId === "number" && Number.isFinite(userId));
  if (!valid) throw new HeraldError("invalid_frame", "channel_data.user_id must be a non-empty string (at most 128 characters) or a number");
  return { userId: userId as string | number, user: String(userId), info: info ?? null };
}

/** The info a member's engine entry carries. */
export function entryInfo(member: Member): { user_id: string | number; user_info: unknown } {
  return { user_id: member.userId, user_info: member.info };
}

/** The members of a channel's Pusher presence entries, one per user, in the order first seen. */
export function membersOf(entries: readonly PresenceEntry[]): Member[] {
  const byUser = new Map<string, Member>();
  for (const entry of entries) {
    if (entry.transport !== PUSHER_TRANSPORT || entry.user === undefined || byUser.has(entry.user)) continue;
    const info = (entry.info ?? {}) as { user_id?: string | number; user_info?: unknown };
    byUser.set(entry.user, { userId: info.user_id ?? entry.user, user: entry.user, info: info.user_info ?? null });
  }
  return [...byUser.values()];
}

/** subscription_succeeded's data on a presence channel. */
export function presenceData(members: readonly Member[]): { presence: { count: number; ids: Array<string | number>; hash: Record<string, unknown> } } {
  return {
    presence: {
      count: members.length,
      ids: members.map((member) => member.userId),
      hash: Object.fromEntries(members.map((member) => [member.user, member.info])),
    },
  };
}
