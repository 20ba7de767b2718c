/**
 * The Pusher WebSocket endpoint (protocol 7) at `/app/{key}`, on Herald's port.
 *
 * Arrival: the one way in (transports/admission.ts) refuses before the upgrade what it refuses
 * for every transport (shutdown, browser origin, connection limits), with an HTTP answer. What
 * Pusher answers after the upgrade, with a `pusher:error` frame and a close of the same code,
 * follows: an unknown key (4001), a disabled app (4003), a protocol version not spoken (4006,
 * 4007), an origin the app does not allow (4009), the app's connection quota (4004). Then
 * `pusher:connection_established` gives the socket id and the activity timeout.
 *
 * Messages of one connection are handled in the order sent (a subscribe finishes before the
 * unsubscribe after it); pings skip the line. Bad input (not JSON, not an object with an `event`,
 * binary, an unknown event) is answered with `pusher:error` and the connection stays; a flood of
 * frames is limited as on Herald's own endpoint, and a frame over `maxPayload` closes with 1009.
 *
 * Activity: one timer per node. A connection silent for the activity timeout gets `pusher:ping`
 * (and a protocol ping); one that then sends nothing within `pongTimeout` is closed with 4201.
 */

import { randomInt } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { Logger } from "pino";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import type { SecurityContext } from "../auth/security-context.js";
import type { Admission, Arrival } from "../transports/admission.js";
import { refuseUpgrade } from "../transports/refuse-upgrade.js";
import type { AdmissionSlot } from "../limits/connection-limiter.js";
import { HeraldError } from "../shared/herald-error.js";
import type { PusherApp, PusherApps } from "./apps.js";
import type { ClientEvents } from "./client-events.js";
import { PusherCodes, pusherErrorCode, subscriptionErrorOf } from "./codes.js";
import { connectionEstablished, errorFrame, parseClientMessage, PING_FRAME, PONG_FRAME, subscriptionError, type ClientMessage } from "./frames.js";
import { PusherSession } from "./pusher-session.js";
import type { PusherSubscriptions } from "./subscriptions.js";
import { signIn } from "./user-signin.js";

export interface PusherEndpointOptions {
  readonly hub: Hub;
  readonly apps: PusherApps;
  readonly admission: Admission;
  readonly security: SecurityContext;
  readonly stats: HubStats;
  readonly logger: Logger;
  readonly subscriptions: PusherSubscriptions;
  readonly clientEvents: ClientEvents;
  readonly maxPayload: number;
  readonly sendQueueBytes: number;
  /** In ms; announced in whole seconds. */
  readonly activityTimeout: number;
  readonly pongTimeout: number;
}

const PATH = /^\/app\/([^/]+)\/?$/;
/** Protocol versions whose frames are the ones Herald speaks. */
const OLDEST_PROTOCOL = 5;
const NEWEST_PROTOCOL = 7;

export class PusherEndpoint {
  private readonly server: WebSocketServer;
  private readonly sessions = new Set<PusherSession>();
  private readonly perApp = new Map<PusherApp, number>();
  private readonly activity: NodeJS.Timeout;

  constructor(private readonly options: PusherEndpointOptions) {
    this.server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.activity = setInterval(() => this.checkActivity(), Math.max(100, Math.min(5_000, options.activityTimeout / 4, options.pongTimeout / 4)));
    this.activity.unref();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Handles an upgrade to `/app/{key}`; returns false (touching nothing) for any other path. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = PATH.exec(url.pathname);
    if (!match) return false;
    const address = request.socket.remoteAddress ?? "unknown";
    const arrival: Arrival = { headers: request.headers, address, query: url.searchParams };
    let slot: AdmissionSlot;
    try {
      if (request.httpVersionMajor < 1 || (request.httpVersionMajor === 1 && request.httpVersionMinor < 1)) {
        throw new HeraldError("unsupported_http_version", `a WebSocket upgrade needs HTTP/1.1 or later; this request is HTTP/${request.httpVersion}`);
      }
      slot = this.options.admission.enter(arrival, true);
    } catch (error) {
      const refusal = HeraldError.from(error);
      this.options.stats.countError(refusal.code);
      refuseUpgrade(socket, refusal);
      return true;
    }
    socket.once("close", () => slot.release());
    this.server.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket, decodeKey(match[1]!), url, request, address));
    return true;
  }

  /** Closes every connection with 4200 so Pusher clients reconnect at once, to another node. */
  close(reason = "server shutting down; reconnect"): void {
    clearInterval(this.activity);
    for (const session of this.sessions) session.closeWith(PusherCodes.reconnect, reason);
    this.server.close();
  }

  private accept(ws: WebSocket, raw: Duplex, key: string, url: URL, request: IncomingMessage, address: string): void {
    const app = this.options.apps.withKey(key);
    if (!app) return refuse(ws, PusherCodes.unknownApp, `App key ${key.slice(0, 64)} not in this cluster`);
    if (!app.enabled) return refuse(ws, PusherCodes.appDisabled, "This app is disabled");
    const protocol = url.searchParams.get("protocol");
    if (protocol !== null && !/^\d{1,3}$/.test(protocol)) return refuse(ws, PusherCodes.invalidVersion, "protocol must be a whole number");
    if (protocol !== null && (Number(protocol) < OLDEST_PROTOCOL || Number(protocol) > NEWEST_PROTOCOL)) {
      return refuse(ws, PusherCodes.unsupportedProtocol, `protocol ${protocol} is not supported; Herald speaks ${OLDEST_PROTOCOL} to ${NEWEST_PROTOCOL}`);
    }
    const origin = request.headers.origin;
    if (origin !== undefined && app.allowedOrigins && !app.allowedOrigins.includes("*") && !app.allowedOrigins.includes(origin)) {
      return refuse(ws, PusherCodes.unauthorized, "Origin not allowed for this app");
    }
    const held = this.perApp.get(app) ?? 0;
    if (app.maxConnections !== undefined && held >= app.maxConnections) return refuse(ws, PusherCodes.overQuota, `This app holds its maximum of ${app.maxConnections} connections on this node`);

    const { hub, stats } = this.options;
    const session = new PusherSession(newSocketId(), app, address, ws, raw, this.options.sendQueueBytes, stats);
    this.sessions.add(session);
    this.perApp.set(app, held + 1);
    hub.addSession(session);
    ws.on("message", (data, isBinary) => this.onMessage(session, data, isBinary));
    ws.on("pong", () => session.heardFrom());
    ws.on("error", (error: Error & { code?: string }) => {
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
        stats.countError("frame_too_large");
        this.options.security.hits.hit("frame_size");
      }
      this.options.logger.debug({ socketId: session.id, err: error.message }, "pusher websocket error");
    });
    ws.on("close", () => {
      session.closed = true;
      this.sessions.delete(session);
      const count = (this.perApp.get(app) ?? 1) - 1;
      if (count > 0) this.perApp.set(app, count);
      else this.perApp.delete(app);
      void hub.removeSession(session);
      void this.options.subscriptions.leaveAll(session).catch((error: unknown) => this.options.logger.warn({ err: error, socketId: session.id }, "pusher subscriptions not taken out"));
    });
    session.sendText(connectionEstablished(session.id, Math.max(1, Math.round(this.options.activityTimeout / 1000))));
  }

  private onMessage(session: PusherSession, data: RawData, isBinary: boolean): void {
    session.heardFrom();
    if (session.closed) return;
    const verdict = this.options.security.frames.check(session);
    if (verdict !== "accept") {
      if (verdict === "warn") session.sendText(errorFrame(null, `more than ${this.options.security.frames.rate} messages per second; messages are dropped until you slow down`));
      if (verdict === "close") session.closeWith(PusherCodes.overCapacity, "message flood: too many messages per second");
      return;
    }
    if (isBinary) return session.sendText(errorFrame(null, "send text frames holding one JSON object; binary frames are not read"));
    const message = parseClientMessage(data.toString());
    if (!message) return session.sendText(errorFrame(null, 'a message must be a JSON object with an "event" string'));
    if (message.event === "pusher:ping") return session.sendText(PONG_FRAME);
    if (message.event === "pusher:pong") return;
    session.requests = session.requests.then(() => (session.closed ? undefined : this.handle(session, message))).catch((error: unknown) => this.answer(session, message, error));
  }

  private async handle(session: PusherSession, message: ClientMessage): Promise<void> {
    const { subscriptions, clientEvents } = this.options;
    switch (message.event) {
      case "pusher:subscribe":
        return subscriptions.subscribe(session, message.data);
      case "pusher:unsubscribe":
        return subscriptions.unsubscribe(session, message.data);
      case "pusher:signin":
        return signIn(session, message.data);
      default:
        if (message.event.startsWith("client-")) return clientEvents.publish(session, message);
        throw new HeraldError("unknown_type", `unknown event ${JSON.stringify(message.event.slice(0, 64))}`);
    }
  }

  /** Answers a refused message: subscription_error for a subscription, pusher:error for the rest. */
  private answer(session: PusherSession, message: ClientMessage, error: unknown): void {
    const refusal = HeraldError.from(error);
    if (refusal.code === "internal_error") this.options.logger.error({ err: error, socketId: session.id, event: message.event }, "unexpected error handling a pusher message");
    if (message.event === "pusher:subscribe") {
      const channel = (message.data as { channel?: unknown } | undefined)?.channel;
      const { type, status } = subscriptionErrorOf(refusal);
      session.sendText(subscriptionError(typeof channel === "string" ? channel.slice(0, 200) : "", type, refusal.message, status));
      return;
    }
    session.sendText(errorFrame(pusherErrorCode(refusal), refusal.message));
  }

  private checkActivity(): void {
    const now = Date.now();
    const { activityTimeout, pongTimeout } = this.options;
    for (const session of this.sessions) {
      if (session.pingedAt !== undefined) {
        if (now - session.pingedAt > pongTimeout) session.closeWith(PusherCodes.pongTimeout, "Pong reply not received");
        continue;
      }
      if (now - session.lastHeard < activityTimeout) continue;
      session.pingedAt = now;
      session.sendText(PING_FRAME);
      try {
        session.socket.ping();
      } catch {
        // Closed between the check and the ping; its close handler cleans up.
      }
    }
  }
}

/** Refuses a connection the Pusher way: a `pusher:error` frame, then a close with the same code. */
function refuse(ws: WebSocket, code: number, message: string): void {
  ws.send(errorFrame(code, message));
  ws.close(code, message.slice(0, 120));
}

function newSocketId(): string {
  return `${randomInt(1_000_000_000, 9_999_999_999)}.${randomInt(1_000_000_000, 9_999_999_999)}`;
}

function decodeKey(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
