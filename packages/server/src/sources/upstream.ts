/**
 * One connection to an upstream feed, over plain WebSocket (`ws`) or Socket.IO
 * (`socket.io-client`), behind one small interface so the bridge's state machine does not care
 * which. Neither reconnects on its own (Socket.IO's reconnection is turned off): the bridge
 * decides, because it alone knows whether anyone still listens.
 */

import WebSocket from "ws";
import { io } from "socket.io-client";

export interface UpstreamHandlers {
  open(): void;
  /** A WebSocket text frame, or a Socket.IO event with its arguments. */
  message(message: UpstreamMessage): void;
  /** The connection ended or could not be made; called at most once. */
  closed(reason: string): void;
}

export type UpstreamMessage = { kind: "text"; text: string } | { kind: "event"; event: string; args: unknown[] };

export interface Upstream {
  /** Sends a subscribe frame: JSON text (websocket) or `[event, ...args]` (socket.io). */
  send(frame: unknown): void;
  close(): void;
}

export function openWebSocketUpstream(url: string, handlers: UpstreamHandlers): Upstream {
  const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
  let ended = false;
  const end = (reason: string): void => {
    if (ended) return;
    ended = true;
    handlers.closed(reason);
  };
  socket.on("open", () => handlers.open());
  socket.on("message", (data, isBinary) => handlers.message({ kind: "text", text: isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString() }));
  socket.on("error", (error) => end(error.message));
  socket.on("close", (code, reason) => end(`closed ${code}${reason.length ? ` ${reason.toString()}` : ""}`));
  return {
    send: (frame) => socket.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    close: () => {
      ended = true;
      socket.terminate();
    },
  };
}

export function openSocketIoUpstream(url: string, handlers: UpstreamHandlers): Upstream {
  const socket = io(url, { reconnection: false, timeout: 10_000, transports: ["websocket"], forceNew: true });
  let ended = false;
  const end = (reason: string): void => {
    if (ended) return;
    ended = true;
    socket.removeAllListeners();
    socket.offAny();
    socket.disconnect();
    handlers.closed(reason);
  };
  socket.on("connect", () => handlers.open());
  socket.onAny((event: string, ...args: unknown[]) => handlers.message({ kind: "event", event, args }));
  socket.on("connect_error", (error) => end(error.message));
  socket.on("disconnect", (reason) => end(reason));
  return {
    send: (frame) => {
      const [event, ...args] = Array.isArray(frame) ? frame : ["subscribe", frame];
      socket.emit(String(event), ...args);
    },
    close: () => {
      ended = true;
      socket.removeAllListeners();
      socket.offAny();
      socket.disconnect();
    },
  };
}
