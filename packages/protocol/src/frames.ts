/** Frame shapes of wire protocol v1. Every frame is one JSON object with a string `type`. */

import type { ErrorCode } from "./codes.js";
import type { EventTags } from "./tag-filter.js";

/** A position in a channel's stream. `offset` grows by exactly 1 per event; `epoch` changes when history is lost. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

// ---- server → client ----

export interface ConnectedFrame {
  type: "connected";
  connectionId: string;
  node: string;
  /** Milliseconds between server pings. */
  pingInterval: number;
}

export interface SubscribedFrame {
  type: "subscribed";
  id?: string | number;
  channel: string;
  epoch: string;
  offset: number;
  /** True when every event after `since` follows this frame; false when the app must reload its state. */
  recovered: boolean;
  /** Present (true) when the channel's namespace keeps receipts: the client acknowledges what it handled with `ack`. */
  receipts?: true;
  /**
   * Only in a namespace with `cache: true`, for a subscribe without `since`: `hit` when the
   * channel's latest retained event (the one at `offset`) follows this frame, `miss` when the
   * channel retains no event (nothing published yet, or history expired or empty).
   */
  cache?: CacheResult;
  /**
   * Only in the answer to a pattern subscribe (whose `channel` is the pattern, `epoch` "" and
   * `offset` 0): each channel listed in its `positions` that the connection may read, with where it
   * stands and whether its missed events follow (as `recovered` of a single-channel subscribe).
   */
  channels?: Record<string, PatternChannelState>;
  /**
   * Only in the answer to a pattern subscribe: the server's time (ISO-8601) when the subscription
   * started. Sent back as `after` on the next subscribe of the pattern, it has the channels that
   * started matching while the client was away recovered from then on.
   */
  time?: string;
  /**
   * Present when the subscribe asked for deltas and the channel's namespace sends them: events of
   * this subscription may then come as deltas (EventFrame.delta). Absent: every event is full.
   */
  delta?: DeltaFormat;
}

/** Where one channel of a pattern subscription stands (see SubscribedFrame.channels). */
export interface PatternChannelState extends StreamPosition {
  recovered: boolean;
}

/** The delta encodings a subscriber may ask for: Fossil's delta format over the data's JSON text (docs/protocol.md, "Delta compression"). */
export type DeltaFormat = "fossil";

/** Whether a cache namespace had a latest event to give a new subscriber (see SubscribedFrame.cache). */
export type CacheResult = "hit" | "miss";

/** Why the server removed a subscription the client did not ask to end: `server_unsubscribe`, the server API's `unsubscribe`. */
export type UnsubscribeCode = "server_unsubscribe";

export interface UnsubscribedFrame {
  type: "unsubscribed";
  id?: string | number;
  channel: string;
  /** Set when the server removed the subscription (no `id` then); absent in the answer to the client's own `unsubscribe`. */
  code?: UnsubscribeCode;
  /** Words for people, given with `code`. */
  reason?: string;
}

export interface PublishedFrame {
  type: "published";
  id?: string | number;
  channel: string;
  epoch: string;
  offset: number;
}

/** An event. `type` is the event's own name, e.g. `balance_update`. */
export interface EventFrame<T = unknown> {
  type: string;
  channel: string;
  data: T;
  offset: number;
  epoch: string;
  /** ISO-8601. */
  timestamp: string;
  /**
   * The 32-hex OpenTelemetry trace id the event was published in, present only while the server
   * traces (OTEL_EXPORTER_OTLP_ENDPOINT set): what a client-side error report names to find the
   * event's trace. Absent otherwise, and never in the `flat` envelope.
   */
  traceId?: string;
  /**
   * Only on subscriptions granted `delta` (SubscribedFrame.delta): `data` is then a string, the
   * Fossil delta that turns the previous event's data JSON text into this one's (one character
   * per byte of the delta, U+0000 to U+00FF). The previous event is the one at `offset - 1`,
   * always the last event sent to this subscription.
   */
  delta?: true;
  /** The tags the event was published with, only when it had some (see tag-filter.ts). */
  tags?: EventTags;
}

export interface PingFrame {
  type: "ping";
}

export interface PongFrame {
  type: "pong";
}

export interface ErrorFrame {
  type: "error";
  id?: string | number;
  /** The channel a refused subscription was for, where no `id` ties the error to a request (SSE). */
  channel?: string;
  code: ErrorCode;
  message: string;
}

export type ServerControlFrame =
  | ConnectedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PublishedFrame
  | PingFrame
  | PongFrame
  | ErrorFrame;

// ---- client → server ----

export interface SubscribeFrame {
  type: "subscribe";
  id?: string | number;
  channel: string;
  since?: StreamPosition;
  /** Only with a pattern `channel`: the position of each matched channel to recover from, as `since` does for one channel. */
  positions?: Record<string, StreamPosition>;
  /**
   * Only with a pattern `channel`: the `time` of the pattern's last `subscribed` (ISO-8601). The
   * channels not in `positions` that were published to since then are delivered from then on.
   */
  after?: string;
  token?: string;
  /** Asks for events as deltas where the namespace allows them; granted when `subscribed` repeats it. */
  delta?: DeltaFormat;
  /** Only events whose tags pass this filter are sent (grammar in tag-filter.ts). */
  filter?: string;
}

export interface UnsubscribeFrame {
  type: "unsubscribe";
  id?: string | number;
  channel: string;
}

export interface PublishFrame {
  type: "publish";
  id?: string | number;
  channel: string;
  event: string;
  data: unknown;
  tags?: EventTags;
}

export interface AuthFrame {
  type: "auth";
  token: string;
}

/**
 * Acknowledges that the client's handlers returned for every event of `channel` up to `offset`
 * (cumulative), on channels whose `subscribed` said `receipts: true`. No answer: an ack for a
 * channel the connection is not subscribed to, or beyond what it was sent, is ignored.
 */
export interface AckFrame {
  type: "ack";
  channel: string;
  offset: number;
}

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PublishFrame | AuthFrame | PingFrame | PongFrame | AckFrame;
