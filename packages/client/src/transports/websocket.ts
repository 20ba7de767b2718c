/**
 * WebSocket transport: protocol v1 frames both ways, as plain JSON text. With a binary encoding
 * (`format`), `context.WebSocket` is the codec's wrapper, which hands over frames already decoded.
 */

import type { ClientFrame } from "@herald/protocol";
import { ABNORMAL_CLOSURE, type IncomingFrame, type Transport, type TransportCallbacks, type TransportContext, type WebSocketLike } from "./transport.js";

export class WebSocketTransport implements Transport {
  readonly name = "websocket";
  readonly duplex = true;
  private readonly socket: WebSocketLike;
  private done = false;

  constructor(context: TransportContext, private readonly callbacks: TransportCallbacks) {
    const Impl = context.WebSocket;
    if (!Impl) throw new Error("no WebSocket implementation: pass `WebSocket` in the options (in Node, the `ws` package)");
    // The token goes in the first frame, not the URL, so it stays out of proxy and server logs.
    this.socket = new Impl(context.wsUrl);
    this.socket.onopen = () => {
      if (!this.done) callbacks.open();
    };
    this.socket.onmessage = (event) => {
      if (this.done) return;
      let frame: unknown = event.data;
      try {
        if (typeof frame === "string") frame = JSON.parse(frame);
      } catch {
        return;
      }
      if (typeof frame === "object" && frame !== null && typeof (frame as IncomingFrame).type === "string") callbacks.frame(frame as IncomingFrame);
    };
    // Browsers fire `error` then `close`; only `close` carries the code, so it alone ends the transport.
    this.socket.onerror = () => {};
    this.socket.onclose = (event) => this.finish(event.code || ABNORMAL_CLOSURE, event.reason || "");
  }

  send(frame: ClientFrame): void {
    if (!this.done && this.socket.readyState === 1) this.socket.send(JSON.stringify(frame));
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    try {
      this.socket.close(1000);
    } catch {
      // Closing a socket that is still connecting throws in some implementations; it is dropped either way.
    }
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    this.callbacks.close(code, reason);
  }

  private detach(): void {
    this.socket.onopen = this.socket.onmessage = this.socket.onclose = null;
  }
}
