/** A client connection carried by a WebSocket (the `ws` package). */

import type { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";
import { parseClientFrame, type EnvelopeName, type ParseResult, type ServerControlFrame, type WireFormat } from "@herald/protocol";
import type { PreparedEvent } from "../hub/prepared-event.js";
import { framePayloadLength } from "../hub/websocket-frame.js";
import type { Subscription } from "../hub/subscription.js";
import { PushSession } from "../hub/push-session.js";
import type { HubStats } from "../hub/stats.js";
import type { AdmissionSlot } from "../limits/connection-limiter.js";
import type { FrameAllowance } from "../limits/frame-rate.js";

const OPEN = 1; // WebSocket.OPEN
/** How long a closed connection may take to answer its close frame once the frame is sent. */
const CLOSE_GRACE_MS = 2_000;
/** Written after a close frame: its callback runs once everything before it left our queue. */
const FLUSHED_MARK = Buffer.alloc(0);
/** Where every connection's request chain starts: one settled promise for all, not one each. */
export const NO_REQUESTS: Promise<void> = Promise.resolve();
const HEARTBEATS = { ping: '{"type":"ping"}', pong: '{"type":"pong"}' } as const;

/**
 * Write coalescing, only under load. Corking a socket at its first event of an event-loop turn and
 * uncorking it in the check phase (setImmediate) sends all of a turn's events to a subscriber in
 * one writev instead of one syscall each (syscalls, not JavaScript, dominate the fan-out profile),
 * but makes the first of 10,000 subscribers wait for the whole sweep. So a turn corks at the first
 * event only when the turn before it sent some socket a second event (publishes arrive together:
 * load); otherwise the first event is written at once, and only a second one for the same socket
 * corks it. Each event is still its own WebSocket frame holding one JSON object.
 */
const sessionsWritten: WebSocketSession[] = [];
let turnEndScheduled = false;
/** Some socket got a second event in this turn. */
let repeatedThisTurn = false;
/** The last turn had one: cork at the first event (see above). */
let coalescing = false;

function endTurn(): void {
  turnEndScheduled = false;
  coalescing = repeatedThisTurn;
  repeatedThisTurn = false;
  for (let i = 0; i < sessionsWritten.length; i++) sessionsWritten[i]!.endTurn();
  sessionsWritten.length = 0;
}

export class WebSocketSession extends PushSession implements FrameAllowance {
  /** How this connection's frames are encoded, both ways. */
  readonly format: WireFormat = "json";
  /** Whether an event was written to the socket in this event-loop turn (see endTurn). */
  private writtenThisTurn = false;
  /** Whether the socket is corked until the end of this event-loop turn (see endTurn). */
  private corked = false;
  /** Bytes written since the socket was corked in this turn. */
  private corkedBytes = 0;
  /** Whether this connection negotiated permessage-deflate (see deliver). */
  private readonly deflating: boolean;
  /** Whether any frame or pong came in since the last server ping. */
  heard = true;
  /** Set once the connection authenticated or subscribed; until then the idle deadline runs. */
  engaged = false;
  idleTimer: NodeJS.Timeout | undefined;
  /** The tail of this connection's request chain (see WebSocketTransport.onMessage). */
  requests: Promise<void> = NO_REQUESTS;
  /** The connection's place in the connection limits, released when the socket closes. */
  admission: AdmissionSlot | undefined;
  /** On routes with `allowSubscribe: false` the route's channels are the only ones. */
  subscriptionsFixed = false;
  /** The frame-rate limiter's state of this connection (limits/frame-rate.ts). */
  framesFullAt = 0;
  framesDropped = 0;

  constructor(
    id: string,
    remoteAddress: string,
    envelope: EnvelopeName,
    readonly socket: WebSocket,
    private readonly raw: Duplex,
    sendQueueBytes: number,
    stats: HubStats,
  ) {
    super(id, "websocket", remoteAddress, envelope, raw, sendQueueBytes, stats);
    this.deflating = socket.extensions.includes("permessage-deflate");
  }

  /**
   * The fan-out hot path. The event's WebSocket frame is built once per event (PreparedEvent) and
   * written straight to the TCP socket, bypassing ws's per-send framing; see websocket-frame.ts.
   * This stays ordered with ws's own writes (control frames, pings) because ws writes to the same
   * socket synchronously when no extension is active, and the queued bytes of both show up in
   * raw.writableLength, which ws's bufferedAmount also reads.
   */
  deliver(event: PreparedEvent, subscription?: Subscription): void {
    if (this.closed || this.closedAsSlowConsumer(event.event.channel)) return;
    const raw = this.raw;
    // Once ws has sent (or is sending) its close frame, nothing may follow it.
    if (this.socket.readyState !== OPEN) return;
    const delta = subscription?.sendsDelta(event.event) === true;
    if (this.deflating) {
      // With permessage-deflate ws may hold frames back while it compresses; writing around its
      // queue could reorder them, so such connections go through ws.send (and get compression).
      const deltaText = delta ? event.deltaText(this.envelope) : undefined;
      const bytes = deltaText === undefined ? this.payloadOf(event) : Buffer.from(deltaText);
      event.bytesWritten += bytes.length;
      this.socket.send(bytes, { binary: this.format !== "json" });
      this.stats.bytesSent.websocket += bytes.length;
      this.stats.deliveredBy.websocket += 1;
      return;
    }
    if (!this.writtenThisTurn) {
      this.writtenThisTurn = true;
      sessionsWritten.push(this);
      if (!turnEndScheduled) {
        turnEndScheduled = true;
        setImmediate(endTurn);
      }
      if (coalescing) {
        this.corked = true;
        raw.cork();
      }
    } else {
      repeatedThisTurn = true;
      if (!this.corked) {
        this.corked = true;
        raw.cork();
      }
    }
    const deltaFrame = delta ? event.deltaWebSocketFrame(this.envelope) : undefined;
    const frame = deltaFrame ?? this.frameOf(event);
    event.bytesWritten += framePayloadLength(frame);
    raw.write(frame);
    if (this.corked) this.corkedBytes += frame.length;
    this.stats.bytesSent.websocket += frame.length;
    this.stats.deliveredBy.websocket += 1;
  }

  /** Delta frames exist in the envelopes whose `data` is a field of its own. */
  override get takesDeltas(): boolean {
    return this.envelope === "herald" || this.envelope === "event";
  }

  /** The event as this connection's protocol writes it (a WebSocket message's payload); another protocol overrides it and frameOf. */
  protected payloadOf(event: PreparedEvent): Buffer {
    return event.bytes(this.envelope);
  }

  /** The whole WebSocket frame of payloadOf, built once per event and shared by the connections that send it. */
  protected frameOf(event: PreparedEvent): Buffer {
    return event.webSocketFrame(this.envelope);
  }

  /** Sends what was written while corked; called once per turn by endTurn for each socket written to. */
  endTurn(): void {
    this.writtenThisTurn = false;
    if (!this.corked) return;
    this.corked = false;
    this.corkedBytes = 0;
    this.raw.uncork();
  }

  sendFrame(frame: ServerControlFrame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(frame);
    this.socket.send(text);
    this.stats.bytesSent.websocket += text.length;
  }

  /** A heartbeat frame, `{"type":"ping"}` or `{"type":"pong"}`, encoded once for every connection. */
  sendHeartbeat(type: keyof typeof HEARTBEATS): void {
    this.sendText(HEARTBEATS[type]);
  }

  /** Decodes and validates one frame the client sent. */
  readFrame(data: RawData, isBinary: boolean): ParseResult {
    if (isBinary) return { ok: false, code: "invalid_frame", message: "send text frames holding one JSON object; binary frames are read only on MessagePack connections (format=msgpack)" };
    return parseClientFrame(data.toString());
  }

  sendText(text: string): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(text);
  }

  /** Bytes corked in this turn are not a backlog yet: they go out together at the end of the turn. */
  protected override get backlog(): number {
    return this.raw.writableLength - this.corkedBytes;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.close(code, fitReason(reason));
    // The close frame queues behind every byte the client has not read yet (a slow consumer has
    // sendQueueBytes of them). Cutting the socket while the frame is still in our queue would lose
    // it: the client would read the events already on the wire and then see an abnormal 1006. So
    // the short grace for a client that never answers the close starts only once our queue,
    // close frame included, is handed to the kernel; a client that never reads at all is cut by
    // ws's own close timeout (30 s), and its queue is bounded meanwhile.
    this.raw.write(FLUSHED_MARK, () => setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref());
  }
}

/** WebSocket close reasons are limited to 123 bytes (RFC 6455 §5.5); a longer one is cut with "...". */
function fitReason(reason: string): string {
  const bytes = Buffer.from(reason);
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "") + "...";
}
