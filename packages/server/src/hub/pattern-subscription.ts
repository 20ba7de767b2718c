/**
 * One session's subscription to a channel pattern (`orders:*`). It holds no channel by itself:
 * the first time an event of a matching channel reaches it, the hub decides whether the session
 * may read that channel (as a subscribe by name would) and remembers the answer here; a channel it
 * may read gets a Subscription of its own, so order, de-duplication and recovery are exactly those
 * of a single-channel subscription.
 */

import type { TagFilter } from "@herald/protocol";
import type { StreamEvent } from "../engine/engine.js";
import type { Subscriber, Subscription } from "./subscription.js";

/** What the pattern knows about one matching channel. */
export type PatternChannel =
  /** Permission asked and not answered yet: the channel's events wait in `seen`, in order. */
  | { readonly state: "checking"; readonly seen: StreamEvent[] }
  /** Not readable by this session: its events never reach it (the answer is kept). */
  | { readonly state: "refused" }
  | { readonly state: "attached"; readonly subscription: Subscription };

export class PatternSubscription {
  readonly channels = new Map<string, PatternChannel>();
  active = true;
  /** Set once the client was told that the pattern reached its channel limit. */
  limitReported = false;
  /**
   * While a subscribe with `after` (ms) looks for the channels published since then: a channel that
   * starts matching meanwhile is delivered from its events at or after that time (Hub.eventsAfter).
   */
  after: number | undefined;

  constructor(
    readonly session: Subscriber | undefined,
    readonly pattern: string,
    /** The subscribe's token, asked again for every channel (a subscription token may name some). */
    readonly token: string | undefined,
    /**
     * Set for a long-poll's pattern (Hub.watch): it delivers nothing itself, it is told of every
     * matching event's channel, and its poll reads the channel by cursor.
     */
    readonly notify?: (channel: string) => void,
    /** The subscribe's tag filter, given to each channel's Subscription. */
    readonly filter?: TagFilter,
    /** Granted deltas (asked, the namespace sends them, the transport carries them): each channel's Subscription gets them. */
    readonly delta = false,
  ) {}

  /** The channels delivered to the session. */
  attached(): Subscription[] {
    const subscriptions: Subscription[] = [];
    for (const entry of this.channels.values()) if (entry.state === "attached") subscriptions.push(entry.subscription);
    return subscriptions;
  }
}
