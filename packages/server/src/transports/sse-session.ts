/** A client connection carried by Server-Sent Events. */

import { encodeCursor, type Cursor, type ServerControlFrame } from "@herald/protocol";
import type { PreparedEvent } from "../hub/prepared-event.js";
import type { Subscription } from "../hub/subscription.js";
import { PushSession } from "../hub/push-session.js";
import type { HubStats } from "../hub/stats.js";
import type { SseStream } from "./sse-stream.js";
import { patternEntry } from "./query.js";

export class SseSession extends PushSession {
  /** Last position sent per channel; every event's `id:` is this whole map as a cursor. */
  readonly positions: Cursor;

  constructor(
    id: string,
    remoteAddress: string,
    private readonly stream: SseStream,
    sendQueueBytes: number,
    stats: HubStats,
    resumeFrom: Cursor | undefined,
  ) {
    super(id, "sse", remoteAddress, "herald", stream.response, sendQueueBytes, stats);
    this.positions = { ...resumeFrom };
  }

  override get takesDeltas(): boolean {
    return true;
  }

  deliver(event: PreparedEvent, subscription?: Subscription): void {
    if (this.closed || this.closedAsSlowConsumer(event.event.channel)) return;
    const { channel, epoch, offset, type } = event.event;
    this.positions[channel] = { epoch, offset };
    const deltaText = subscription?.sendsDelta(event.event) ? event.deltaText("herald") : undefined;
    const text = deltaText ?? event.text("herald");
    event.bytesWritten += Buffer.byteLength(text);
    this.stats.bytesSent.sse += this.stream.record(type, text, encodeCursor(this.positions));
    this.stats.deliveredBy.sse += 1;
  }

  sendFrame(frame: ServerControlFrame): void {
    if (this.closed) return;
    // Without recovery the client starts at the current position, so that becomes its cursor.
    if (frame.type === "subscribed" && frame.channels) {
      // A pattern: each of its listed channels is a channel of the cursor, and its own name holds
      // its time, from which a reconnecting stream looks for the channels that started matching.
      for (const [channel, state] of Object.entries(frame.channels)) if (!state.recovered) this.positions[channel] = { epoch: state.epoch, offset: state.offset };
      if (frame.time !== undefined) this.positions[frame.channel] = patternEntry(Date.parse(frame.time));
    } else if (frame.type === "subscribed" && !frame.recovered) this.positions[frame.channel] = { epoch: frame.epoch, offset: frame.offset };
    // A channel the server removed leaves the cursor: a reconnecting stream must not ask for it again.
    if (frame.type === "unsubscribed") delete this.positions[frame.channel];
    // `subscribed` carries the cursor too: a stream that drops before its first event resumes from
    // where it started instead of from the position current when it comes back.
    const id = frame.type === "subscribed" ? encodeCursor(this.positions) : undefined;
    this.stats.bytesSent.sse += this.stream.record(frame.type, JSON.stringify(frame), id);
  }

  ping(): void {
    if (this.closed) return;
    this.stats.bytesSent.sse += this.stream.ping();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
  }
}
