/**
 * Pusher's error and close codes (protocol v7), and how Herald's close codes read in them.
 * Pusher clients act on the range alone: 4000-4099 stop, 4100-4199 reconnect after backing off,
 * 4200-4299 reconnect at once; 4300-4399 are errors that do not close.
 */

import { CloseCodes } from "@herald/protocol";
import type { HeraldError } from "../shared/herald-error.js";

export const PusherCodes = {
  /** The key in /app/{key} names no configured app. */
  unknownApp: 4001,
  /** The app is configured with enabled: false. */
  appDisabled: 4003,
  /** The app holds its maxConnections on this node. */
  overQuota: 4004,
  /** The protocol query parameter is not a number. */
  invalidVersion: 4006,
  /** The protocol query parameter names a version Herald does not speak (5 to 7 are spoken). */
  unsupportedProtocol: 4007,
  /** The connection is not allowed: its browser origin is not in the app's allowedOrigins. */
  unauthorized: 4009,
  /** Back off, then reconnect: a limit was broken or this node is over capacity. */
  overCapacity: 4100,
  /** Reconnect at once: this node is going away, or events were lost on it. */
  reconnect: 4200,
  /** No pong came back to the server's ping within pongTimeout. */
  pongTimeout: 4201,
  /** A client event went over the app's clientEventsPerSecond; it was dropped, the connection stays. */
  clientEventRateLimit: 4301,
} as const;

/** The Pusher close code for a close Herald's hub asks for (slow consumer, resync, shutdown, ...). */
export function pusherCloseCode(heraldCode: number): number {
  switch (heraldCode) {
    case CloseCodes.ping_timeout.code:
      return PusherCodes.pongTimeout;
    case CloseCodes.going_away.code:
    case CloseCodes.resync.code:
      return PusherCodes.reconnect;
    case CloseCodes.normal.code:
      return heraldCode;
    // The server API's disconnect: stop (a 40xx code), or reconnect at once.
    case CloseCodes.disconnected.code:
      return PusherCodes.unauthorized;
    case CloseCodes.reconnect_requested.code:
      return PusherCodes.reconnect;
    default:
      // Slow consumer, limits, server faults: reconnect, but not all at once.
      return PusherCodes.overCapacity;
  }
}

/**
 * The code of the `pusher:error` frame a refused message is answered with. Pusher gives a code only
 * to errors a client acts on; the rest carry null and their message.
 */
export function pusherErrorCode(error: HeraldError): number | null {
  return error.code === "rate_limited" ? PusherCodes.clientEventRateLimit : null;
}

/** How a refused subscription reads in `pusher:subscription_error`: pusher-js's own type names and an HTTP status. */
export function subscriptionErrorOf(error: HeraldError): { readonly type: string; readonly status: number } {
  const status = error.status;
  const type =
    error.code === "presence_full" || status === 429 || status === 413
      ? "LimitReached"
      : status === 401 || status === 403
        ? "AuthError"
        : status < 500
          ? "InvalidRequest"
          : "ServerError";
  return { type, status };
}
