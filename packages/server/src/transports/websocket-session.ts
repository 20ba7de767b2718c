/** A client connection carried by a WebSocket (the `ws` package). */

import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import { CloseCodes, type EnvelopeName, type ServerControlFrame } from "@herald/protocol";
import type { PreparedEvent } from "../hub/prepared-event.js";
import { Session } from "../hub/session.js";
import type { HubStats } from "../hub/stats.js";

export class WebSocketSession extends Session {
  /** Whether any frame or pong came in since the last server ping. */
  heard = true;
  /** Set once the connection authenticated or subscribed; until then the idle deadline runs. */
  engaged = false;
  idleTimer: NodeJS.Timeout | undefined;
  /** The tail of this connection's request chain (see WebSocketTransport.onMessage). */
  requests: Promise<void> = Promise.resolve();
  /** On routes with `allowSubscribe: false` the route's channels are the only ones. */
  subscriptionsFixed = false;

  constructor(
    id: string,
    remoteAddress: string,
    envelope: EnvelopeName,
    readonly socket: WebSocket,
    private readonly raw: Duplex,
    private readonly sendQueueBytes: number,
    private readonly stats: HubStats,
  ) {
    super(id, "websocket", remoteAddress, envelope);
  }

  deliver(event: PreparedEvent): void {
    if (this.closed) return;
    // A queue already past the cap means the client reads slower than we publish: cut it loose
    // (it reconnects and recovers with `since`) rather than buffer without bound.
    if (this.socket.bufferedAmount > this.sendQueueBytes) {
      this.stats.slowConsumerDisconnects += 1;
      this.close(CloseCodes.slow_consumer.code, "slow consumer: send queue over limit; reconnect and resume with since");
      return;
    }
    const bytes = event.bytes(this.envelope);
    this.socket.send(bytes, { binary: false });
    this.stats.bytesSent.websocket += bytes.length;
    this.stats.deliveredBy.websocket += 1;
  }

  sendFrame(frame: ServerControlFrame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(frame);
    this.socket.send(text);
    this.stats.bytesSent.websocket += text.length;
  }

  sendText(text: string): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(text);
  }

  get congested(): boolean {
    return this.socket.bufferedAmount > this.sendQueueBytes / 2;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || !this.congested) return setImmediate(resolve);
      const done = (): void => {
        this.raw.off("drain", done);
        this.raw.off("close", done);
        resolve();
      };
      this.raw.on("drain", done);
      this.raw.on("close", done);
    });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.close(code, reason);
    // A stuck client may never read the close frame; do not keep its socket past a short grace.
    setTimeout(() => this.socket.terminate(), 2_000).unref();
  }
}
