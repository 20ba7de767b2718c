/**
 * An event on its way to subscribers, with each envelope's frame encoded at most once.
 * The fan-out loop hands the same PreparedEvent to every subscriber; whichever subscriber first
 * needs a given envelope pays for its encoding, and the rest reuse the bytes.
 */

import { encodeEvent, type EnvelopeName, type EventFrame } from "@herald/protocol";
import type { StreamEvent } from "../engine/engine.js";
import { eventFrame, eventTimestamp } from "./event-frame.js";
import { encodeTextFrame } from "./websocket-frame.js";
import { traceIdOf } from "../shared/tracing.js";

export class PreparedEvent {
  private dataJson: string | undefined;
  private isoTime: string | undefined;
  private readonly texts: Partial<Record<EnvelopeName, string>> = {};
  private readonly buffers: Partial<Record<EnvelopeName, Buffer>> = {};
  private readonly webSocketFrames: Partial<Record<EnvelopeName, Buffer>> = {};

  constructor(readonly event: StreamEvent) {}

  get timestamp(): string {
    return (this.isoTime ??= eventTimestamp(this.event));
  }

  /** The frame as text, e.g. for SSE `data:` lines and polling bodies. */
  text(envelope: EnvelopeName): string {
    let text = this.texts[envelope];
    if (text === undefined) {
      this.dataJson ??= JSON.stringify(this.event.data) ?? "null";
      const { type, channel, offset, epoch, trace, tags } = this.event;
      // Once per event and envelope, never per subscriber; `trace` is set only while tracing is on.
      text = encodeEvent({ type, channel, offset, epoch, timestamp: this.timestamp, traceId: traceIdOf(trace), tags }, this.event.data, this.dataJson, envelope);
      this.texts[envelope] = text;
    }
    return text;
  }

  /** The frame as UTF-8 bytes, so that sending to many WebSockets does not re-encode the string each time. */
  bytes(envelope: EnvelopeName): Buffer {
    return (this.buffers[envelope] ??= Buffer.from(this.text(envelope)));
  }

  /** The whole WebSocket text frame (header + payload), written as is to every WebSocket subscriber. */
  webSocketFrame(envelope: EnvelopeName): Buffer {
    return (this.webSocketFrames[envelope] ??= encodeTextFrame(this.bytes(envelope)));
  }

  /** The frame as a plain object (herald envelope), for JSON bodies. */
  frame(): EventFrame {
    return eventFrame(this.event, this.timestamp);
  }
}
