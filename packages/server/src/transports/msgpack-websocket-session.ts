/**
 * A WebSocket connection that asked for MessagePack (`?format=msgpack` or the `herald.msgpack`
 * subprotocol): every frame, both ways, is one MessagePack map in a binary WebSocket frame,
 * holding the fields of the JSON frame. Events use the binary frame PreparedEvent builds once per
 * event for every MessagePack subscriber; JSON subscribers of the same event are not touched.
 */

import type { RawData } from "ws";
import { validateClientFrame, type ParseResult, type ServerControlFrame } from "@herald/protocol";
import type { PreparedEvent } from "../hub/prepared-event.js";
import { decodeMsgpack, encodeMsgpack } from "../hub/msgpack-codec.js";
import { WebSocketSession } from "./websocket-session.js";

const HEARTBEATS = { ping: encodeMsgpack({ type: "ping" }), pong: encodeMsgpack({ type: "pong" }) } as const;

export class MsgpackWebSocketSession extends WebSocketSession {
  override readonly format = "msgpack";

  /** Delta frames are JSON text (their data a Latin-1 string of delta bytes): MessagePack connections get whole events. */
  override get takesDeltas(): boolean {
    return false;
  }

  protected override payloadOf(event: PreparedEvent): Buffer {
    return event.msgpack(this.envelope);
  }

  protected override frameOf(event: PreparedEvent): Buffer {
    return event.binaryWebSocketFrame(this.envelope);
  }

  override sendFrame(frame: ServerControlFrame): void {
    this.sendBinary(encodeMsgpack(frame));
  }

  override sendHeartbeat(type: keyof typeof HEARTBEATS): void {
    this.sendBinary(HEARTBEATS[type]);
  }

  override readFrame(data: RawData, isBinary: boolean): ParseResult {
    if (!isBinary) {
      return { ok: false, code: "invalid_frame", message: "this connection speaks MessagePack (format=msgpack): send each frame as one MessagePack map in a binary frame; text frames are not read" };
    }
    let value: unknown;
    try {
      value = decodeMsgpack(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    } catch (error) {
      return { ok: false, code: "invalid_msgpack", message: `frame is not valid MessagePack for Herald (${(error as Error).message.slice(0, 80)}); send one MessagePack map per binary frame` };
    }
    return validateClientFrame(value);
  }

  private sendBinary(bytes: Buffer): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(bytes, { binary: true });
    this.stats.bytesSent.websocket += bytes.length;
  }
}
