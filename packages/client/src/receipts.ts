/**
 * Acknowledgements for channels whose namespace keeps receipts (the server's `subscribed` says
 * `receipts: true`): after the handlers of an event returned, the client tells the server the
 * highest offset handled, so the backend can see what reached the user (GET /api/receipts).
 *
 * Cumulative and batched: per channel, at most one acknowledgement per `intervalMs` (500 ms), of
 * the highest offset handled by then, and one when events stop coming (the last offset of a burst
 * is never left unsaid). An acknowledgement that cannot be sent (no connection) waits for the next
 * connection. An offset of an older epoch is dropped when a newer position replaces it.
 */

import type { StreamPosition } from "@herald/protocol";

/** Sends one acknowledgement; false when it could not be sent now (kept for the next connection). */
export type SendAck = (channel: string, position: StreamPosition) => boolean;

interface ChannelAcks {
  /** Highest position handled and not yet acknowledged. */
  pending: StreamPosition | undefined;
  /** When the last acknowledgement of this channel left, ms. */
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Receipts {
  private readonly channels = new Map<string, ChannelAcks>();

  constructor(
    private readonly send: SendAck,
    private readonly intervalMs = 500,
  ) {}

  /** The handlers of the event at `position` on `channel` returned. */
  handled(channel: string, position: StreamPosition): void {
    let acks = this.channels.get(channel);
    if (!acks) this.channels.set(channel, (acks = { pending: undefined, sentAt: 0, timer: undefined }));
    acks.pending = position;
    if (acks.timer !== undefined) return;
    // Events handled in the same turn share one acknowledgement: sent once the burst is over, or
    // once intervalMs passed since the last one, whichever is later.
    const wait = Math.max(0, acks.sentAt + this.intervalMs - Date.now());
    acks.timer = setTimeout(() => this.flushChannel(channel), wait);
  }

  /** Sends what waits (a connection came back). */
  flush(): void {
    for (const channel of this.channels.keys()) this.flushChannel(channel);
  }

  /** The channel was let go of: nothing more is acknowledged for it. */
  forget(channel: string): void {
    clearTimeout(this.channels.get(channel)?.timer);
    this.channels.delete(channel);
  }

  close(): void {
    for (const acks of this.channels.values()) clearTimeout(acks.timer);
    this.channels.clear();
  }

  private flushChannel(channel: string): void {
    const acks = this.channels.get(channel);
    if (!acks) return;
    clearTimeout(acks.timer);
    acks.timer = undefined;
    const position = acks.pending;
    if (position === undefined) return;
    if (!this.send(channel, position)) return;
    acks.pending = undefined;
    acks.sentAt = Date.now();
  }
}
