/**
 * Slowloris defences for the node's own HTTP server. Node's `headersTimeout` and `requestTimeout`
 * are checked only every `connectionsCheckingInterval` (30 s by default), and neither covers a
 * socket that sends nothing at all, so each new connection also gets its own deadline to finish
 * its first request's headers (a WebSocket upgrade included); a socket that misses it is destroyed.
 */

import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { HeraldConfig } from "../config/schema.js";
import type { LimitHits } from "./limit-hits.js";

const deadlines = new WeakMap<Socket, NodeJS.Timeout>();

export function applyServerTimeouts(server: Server, limits: HeraldConfig["limits"], hits: LimitHits): void {
  server.headersTimeout = limits.handshakeTimeout;
  // requestTimeout must not be below headersTimeout; 0 would disable it.
  server.requestTimeout = Math.max(limits.requestTimeout, limits.handshakeTimeout);
  const settle = (socket: Socket): void => {
    const timer = deadlines.get(socket);
    if (timer) {
      clearTimeout(timer);
      deadlines.delete(socket);
    }
  };
  server.on("connection", (socket: Socket) => {
    // No close listener: one per socket would stay for the connection's whole life. A socket that
    // closed before its deadline is simply not counted when the timer fires.
    const timer = setTimeout(() => {
      deadlines.delete(socket);
      if (socket.destroyed) return;
      hits.hit("handshake_timeout");
      socket.destroy();
    }, limits.handshakeTimeout);
    timer.unref();
    deadlines.set(socket, timer);
  });
  server.on("request", (request: { socket: Socket }) => settle(request.socket));
  server.on("upgrade", (request: { socket: Socket }) => settle(request.socket));
}
