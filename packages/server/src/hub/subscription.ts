/**
 * One session's subscription to one channel.
 *
 * Ordering invariant: events reach the session in strictly increasing offset order, each once.
 * While the subscription is recovering (history being read and sent), live events are parked in
 * `pending`; when recovery ends they are replayed through `offer`, which drops every event at or
 * below `lastOffset`, so an event both in history and in the live stream is sent once.
 *
 * An event the subscription does not send (its own connection's, or one its tag filter drops)
 * still moves `lastOffset` on: the subscription has seen it, so neither recovery nor the parked
 * replay counts it as missing.
 */

import type { TagFilter } from "@herald/protocol";
import type { StreamEvent } from "../engine/engine.js";
import { PreparedEvent } from "./prepared-event.js";

/**
 * What a subscription needs from the session that holds it (Session documents each member).
 * Declared here so that subscription.ts and session.ts do not import each other.
 */
export interface Subscriber {
  readonly id: string;
  deliver(event: PreparedEvent, subscription: Subscription): void;
  readonly congested: boolean;
  drained(): Promise<void>;
  close(code: number, reason: string): void;
}

export class Subscription {
  epoch = "";
  lastOffset = -1;
  pending: StreamEvent[] | undefined = [];
  active = true;
  /** Granted `delta: "fossil"`: an event may go as a delta from the last one sent (see sendsDelta). */
  delta = false;
  /** The last event actually sent to the client, which a delta must start from. */
  private sentEpoch = "";
  private sentOffset = -1;
  /** Only events whose tags pass it are sent; none: every event. */
  filter: TagFilter | undefined;

  constructor(
    readonly session: Subscriber,
    readonly channel: string,
  ) {}

  get recovering(): boolean {
    return this.pending !== undefined;
  }

  /** Takes a live event from the fan-out; returns whether it was sent. */
  offer(event: StreamEvent, prepared: PreparedEvent): boolean {
    if (this.pending !== undefined) {
      this.pending.push(event);
      return false;
    }
    if (event.epoch === this.epoch && event.offset <= this.lastOffset) return false;
    this.epoch = event.epoch;
    this.lastOffset = event.offset;
    if (!this.wants(event)) return false;
    this.session.deliver(prepared, this);
    return true;
  }

  /**
   * Called by the session as it sends `event`: whether it may go as a delta, i.e. the subscription
   * was granted deltas and the event it sent last is the one just before this (not after a
   * recovery's gap, an event held back from the client, or a new subscription).
   */
  sendsDelta(event: StreamEvent): boolean {
    if (!this.delta) return false;
    const follows = event.epoch === this.sentEpoch && event.offset === this.sentOffset + 1;
    this.sentEpoch = event.epoch;
    this.sentOffset = event.offset;
    return follows;
  }

  /** Whether an event in order is sent to the session (else it is only counted as seen). */
  wants(event: StreamEvent): boolean {
    // An event never goes back to the connection it came from (EventSender).
    if (event.sender?.connectionId === this.session.id) return false;
    return this.filter === undefined || this.filter(event.tags);
  }

  /** Ends recovery: replays parked live events in order and switches to live delivery. */
  goLive(): void {
    const parked = this.pending ?? [];
    this.pending = undefined;
    for (const event of parked) {
      if (!this.active) return;
      this.offer(event, new PreparedEvent(event));
    }
  }
}
