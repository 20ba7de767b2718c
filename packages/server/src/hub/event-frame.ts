/**
 * How a stored event is described to clients, built in one place so that every way out writes
 * the same JSON (key order included):
 *
 *   event frame   {type, channel, data, offset, epoch, timestamp, tags?, traceId?}   WebSocket, SSE, polling, history, admin feed
 *                 (tags only on events published with tags; traceId only while tracing is on, from the event's traceparent)
 *   receipt       {channel, type, epoch, offset, timestamp}         POST /api/publish, herald.publish()
 *
 * The frame is the herald envelope's object form; PreparedEvent encodes the same fields as text
 * (encodeEvent in @herald/protocol) for the fan-out. The sinks' webhook body and template context
 * (sinks/email.ts) list the same fields in the order docs/integrations.md gives them.
 */

import type { EventFrame } from "@herald/protocol";
import type { StreamEvent } from "../engine/engine.js";
import { traceIdOf } from "../shared/tracing.js";

/** Where a published event was stored. */
export interface PublishResult {
  readonly channel: string;
  readonly type: string;
  readonly epoch: string;
  readonly offset: number;
  /** ISO-8601. */
  readonly timestamp: string;
}

let formattedTime = Number.NaN;
let formatted = "";

/**
 * The engine's acceptance time as the ISO-8601 `timestamp` of frames and receipts. Events of one
 * millisecond share the text: each publish formats its time for the receipt and the frame, and
 * under load many publishes fall in the same millisecond.
 */
export function eventTimestamp(event: Pick<StreamEvent, "time">): string {
  if (event.time !== formattedTime) {
    formattedTime = event.time;
    formatted = new Date(formattedTime).toISOString();
  }
  return formatted;
}

/** `timestamp` may be passed when the caller already formatted it. */
export function eventFrame(event: StreamEvent, timestamp: string = eventTimestamp(event)): EventFrame {
  const { type, channel, data, offset, epoch, trace, tags } = event;
  // `trace` is set only while tracing is on; off, the frame has no traceId key at all. Same for tags.
  const frame: EventFrame = tags === undefined ? { type, channel, data, offset, epoch, timestamp } : { type, channel, data, offset, epoch, timestamp, tags };
  if (trace !== undefined) frame.traceId = traceIdOf(trace)!;
  return frame;
}

export function publishReceipt(event: Omit<StreamEvent, "data">): PublishResult {
  const { channel, type, epoch, offset } = event;
  return { channel, type, epoch, offset, timestamp: eventTimestamp(event) };
}
