/**
 * An event on its way to subscribers, with each envelope's frame encoded at most once.
 * The fan-out loop hands the same PreparedEvent to every subscriber; whichever subscriber first
 * needs a given envelope pays for its encoding, and the rest reuse the bytes.
 */

import { encodeEvent, type EnvelopeName, type EventFields, type EventFrame } from "@herald/protocol";
import type { StreamEvent } from "../engine/engine.js";
import { eventFrame, eventTimestamp } from "./event-frame.js";
import { encodeBinaryFrame, encodeTextFrame } from "./websocket-frame.js";
import { encodeMsgpack, eventMap } from "./msgpack-codec.js";
import { traceIdOf } from "../shared/tracing.js";
import { EventDelta, type DeltaSource } from "./event-delta.js";

export class PreparedEvent {
  private dataJson: string | undefined;
  private isoTime: string | undefined;
  private readonly texts: Partial<Record<EnvelopeName, string>> = {};
  private readonly buffers: Partial<Record<EnvelopeName, Buffer>> = {};
  private readonly webSocketFrames: Partial<Record<EnvelopeName, Buffer>> = {};
  /** Set only in delta namespaces, when the channel's previous event was the one just before this. */
  private delta: EventDelta | undefined;
  private readonly deltaTexts: Partial<Record<EnvelopeName, string | null>> = {};
  private readonly deltaWebSocketFrames: Partial<Record<EnvelopeName, Buffer | null>> = {};
  /**
   * Payload bytes of the frames the sessions wrote for this event, each in its own encoding,
   * envelope and delta-or-whole form: added by the sessions as they write, read by the hub for
   * the namespace's bytes figure, so no frame is encoded just to be measured.
   */
  bytesWritten = 0;
  /** MessagePack payloads and binary WebSocket frames: only built when a MessagePack connection is subscribed. */
  private msgpackPayloads: Partial<Record<EnvelopeName, Buffer>> | undefined;
  private binaryWebSocketFrames: Partial<Record<EnvelopeName, Buffer>> | undefined;

  constructor(readonly event: StreamEvent) {}

  get timestamp(): string {
    return (this.isoTime ??= eventTimestamp(this.event));
  }

  /** The frame as text, e.g. for SSE `data:` lines and polling bodies. */
  text(envelope: EnvelopeName): string {
    let text = this.texts[envelope];
    if (text === undefined) {
      // Once per event and envelope, never per subscriber; `trace` is set only while tracing is on.
      text = encodeEvent(this.fields(), this.event.data, this.json(), envelope);
      this.texts[envelope] = text;
    }
    return text;
  }

  /**
   * In a delta namespace: makes this event a delta from the channel's previous event when that is
   * the one just before it, and returns this event as the source of the next one's delta.
   */
  follow(previous: DeltaSource | undefined): DeltaSource {
    const { epoch, offset } = this.event;
    const data = this.json();
    if (previous && previous.epoch === epoch && previous.offset === offset - 1) this.delta = new EventDelta(previous.data, data);
    return { epoch, offset, data };
  }

  /**
   * The delta frame as text (herald and event envelopes: `data` is the delta, then `"delta":true`),
   * or undefined when this event has no delta or it is not smaller than the data.
   */
  deltaText(envelope: EnvelopeName): string | undefined {
    let text = this.deltaTexts[envelope];
    if (text === undefined) {
      const deltaJson = envelope === "herald" || envelope === "event" ? this.delta?.dataJson() : undefined;
      text = deltaJson === undefined ? null : `${encodeEvent(this.fields(), undefined, deltaJson, envelope).slice(0, -1)},"delta":true}`;
      this.deltaTexts[envelope] = text;
    }
    return text ?? undefined;
  }

  /** The whole WebSocket text frame of deltaText, built once and shared like webSocketFrame. */
  deltaWebSocketFrame(envelope: EnvelopeName): Buffer | undefined {
    let frame = this.deltaWebSocketFrames[envelope];
    if (frame === undefined) {
      const text = this.deltaText(envelope);
      frame = text === undefined ? null : encodeTextFrame(Buffer.from(text));
      this.deltaWebSocketFrames[envelope] = frame;
    }
    return frame ?? undefined;
  }

  private json(): string {
    return (this.dataJson ??= JSON.stringify(this.event.data) ?? "null");
  }

  private fields(): EventFields {
    const { type, channel, offset, epoch, trace, tags } = this.event;
    return { type, channel, offset, epoch, timestamp: this.timestamp, traceId: traceIdOf(trace), tags };
  }

  /** The frame as UTF-8 bytes, so that sending to many WebSockets does not re-encode the string each time. */
  bytes(envelope: EnvelopeName): Buffer {
    return (this.buffers[envelope] ??= Buffer.from(this.text(envelope)));
  }

  /** The whole WebSocket text frame (header + payload), written as is to every WebSocket subscriber. */
  webSocketFrame(envelope: EnvelopeName): Buffer {
    return (this.webSocketFrames[envelope] ??= encodeTextFrame(this.bytes(envelope)));
  }

  /** The frame as one MessagePack map, for connections that asked for `format=msgpack`. */
  msgpack(envelope: EnvelopeName): Buffer {
    const payloads = (this.msgpackPayloads ??= {});
    let payload = payloads[envelope];
    if (payload === undefined) {
      const { type, channel, offset, epoch, trace, data } = this.event;
      payload = encodeMsgpack(eventMap({ type, channel, offset, epoch, timestamp: this.timestamp, traceId: traceIdOf(trace) }, data, envelope));
      payloads[envelope] = payload;
    }
    return payload;
  }

  /** The whole binary WebSocket frame of `msgpack`, written as is to every MessagePack subscriber. */
  binaryWebSocketFrame(envelope: EnvelopeName): Buffer {
    return ((this.binaryWebSocketFrames ??= {})[envelope] ??= encodeBinaryFrame(this.msgpack(envelope)));
  }

  /** The frame as a plain object (herald envelope), for JSON bodies. */
  frame(): EventFrame {
    return eventFrame(this.event, this.timestamp);
  }
}
