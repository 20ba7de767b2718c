/**
 * The contract every transport meets. The client core speaks protocol v1 frames whatever carries
 * them: the WebSocket transport passes frames through; the SSE and polling transports turn their
 * streams into the same frames (`connected`, `subscribed`, events), so recovery and de-duplication
 * live in one place, the core.
 */

import type { ClientFrame, StreamPosition } from "@herald/protocol";

export type TransportName = "websocket" | "sse" | "polling";

/** A frame as it arrives: control frames and events share `type`. */
export type IncomingFrame = { type: string } & Record<string, unknown>;

/** A channel a stream transport carries, and where to resume it from (none: start at the head). */
export interface ChannelRequest {
  channel: string;
  since?: StreamPosition;
  /** A pattern's matched channels and their positions (the cursor carries them). */
  positions?: Record<string, StreamPosition>;
  /** A pattern's `time` from its last `subscribed`: the cursor carries it, so the channels that started matching since are found. */
  after?: string;
  /** The subscription's tag filter, if any. */
  filter?: string;
}

export interface TransportCallbacks {
  /** The transport is established (the WebSocket opened, the stream answered 200). */
  open(): void;
  frame(frame: IncomingFrame): void;
  /** Called once, however the transport ended, unless the core closed it. */
  close(code: number, reason: string): void;
}

export interface TransportContext {
  /** http(s) base URL of the Herald. */
  httpUrl: string;
  /** ws(s) URL of the WebSocket endpoint. */
  wsUrl: string;
  token: string | undefined;
  /** Channels for stream transports, fixed for the transport's life (the core reopens on change). */
  channels: ChannelRequest[];
  fetch: typeof fetch;
  WebSocket: WebSocketConstructor | undefined;
  /** Long-poll wait the polling transport asks for, ms. */
  pollTimeout: number;
  /** Ask for events as deltas (the SSE stream's `delta=fossil`; WebSocket subscribes say it themselves). */
  delta: boolean;
}

export interface Transport {
  readonly name: TransportName;
  /** Whether frames can be sent (WebSocket); stream transports carry subscriptions in their URL instead. */
  readonly duplex: boolean;
  send(frame: ClientFrame): void;
  /** Closes without calling `callbacks.close`. */
  close(): void;
}

/**
 * An event handler property. Declared through a method so that its parameter is checked
 * bivariantly: implementations (the browser's, `ws`) type their events more narrowly.
 */
type Handler<E> = { handle(event: E): void }["handle"] | null;

/** The part of the WHATWG WebSocket the client uses; the `ws` package meets it too. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  /** Set to "arraybuffer" by a binary encoding (`format`). */
  binaryType?: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Close code used when a transport ended without a WebSocket close frame (network error, HTTP failure). */
export const ABNORMAL_CLOSURE = 1006;

/** Adds `?channel=a&channel=b` (with `filter[a]=…` for a filtered one, and the token) to an HTTP URL. */
export function streamUrl(base: string, path: string, context: TransportContext, extra: Record<string, string>): string {
  const url = new URL(path, base);
  for (const { channel, filter } of context.channels) {
    url.searchParams.append("channel", channel);
    if (filter !== undefined) url.searchParams.set(`filter[${channel}]`, filter);
  }
  if (context.token) url.searchParams.set("token", context.token);
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return url.toString();
}
