/**
 * The WebSocket transport: accepts upgrades on `/ws` and on configured routes, speaks protocol
 * v1 frames, and keeps connections healthy.
 *
 * Liveness: one timer per node (not per connection) ticks every `pingInterval`. A connection
 * that sent nothing (no frame, no pong of either kind) since the previous tick is closed with
 * 4000; the others get a `{"type":"ping"}` frame and a protocol-level ping. Browsers answer the
 * protocol ping by themselves, so plain `new WebSocket(...)` clients without any ping code stay up.
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket, type RawData } from "ws";
import { CloseCodes, parseClientFrame, type ClientFrame, type ErrorCode } from "@herald/protocol";
import type { Logger } from "pino";
import type { Hub } from "../hub/hub.js";
import { HubError, errorFrameFields } from "../hub/hub-error.js";
import type { HubStats } from "../hub/stats.js";
import { WebSocketSession } from "./websocket-session.js";
import type { RouteTable } from "./routes.js";
import type { SecurityContext } from "../auth/security-context.js";
import { tokenFromRequest } from "../auth/token-source.js";
import type { HeraldConfig } from "../config/schema.js";

export interface WebSocketTransportOptions {
  readonly hub: Hub;
  readonly routes: RouteTable;
  readonly stats: HubStats;
  readonly logger: Logger;
  readonly node: string;
  readonly pingInterval: number;
  readonly idleTimeout: number;
  readonly sendQueueBytes: number;
  readonly maxPayload: number;
  readonly security: SecurityContext;
  /** permessage-deflate: off unless configured; `maxPayload` bounds the inflated size either way. */
  readonly perMessageDeflate?: HeraldConfig["websocket"]["perMessageDeflate"];
  /** Path of the plain protocol endpoint. */
  readonly path?: string;
}

const PING_FRAME = '{"type":"ping"}';
const PONG_FRAME = '{"type":"pong"}';

export class WebSocketTransport {
  private readonly server: WebSocketServer;
  private readonly sessions = new Set<WebSocketSession>();
  private readonly heartbeat: NodeJS.Timeout;
  private accepting = true;
  /** Connections that must authenticate (auth.required) and sent no token yet: resolved by their auth frame. */
  private readonly awaitingAuth = new Map<WebSocketSession, () => void>();
  /** Connections whose URL or cookie token is being checked: their frames wait for the answer, in order. */
  private readonly authenticating = new Map<WebSocketSession, Promise<void>>();

  constructor(private readonly options: WebSocketTransportOptions) {
    const deflate = options.perMessageDeflate ?? false;
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: deflate === false ? false : deflate === true ? { threshold: 1024, concurrencyLimit: 10 } : { threshold: deflate.threshold, concurrencyLimit: deflate.concurrencyLimit },
      clientTracking: false,
    });
    this.heartbeat = setInterval(() => this.tick(), options.pingInterval);
    this.heartbeat.unref();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /**
   * Handles an HTTP upgrade if its path belongs to Herald; returns false (touching nothing) otherwise,
   * so that Herald can share a server with other WebSocket endpoints.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(request.url ?? "/", "http://localhost");
    // A configured route wins over the protocol endpoint, so a deployment can give `/ws` its own shape.
    const resolution = this.options.routes.resolve(url.pathname, url.searchParams);
    if (resolution === undefined && url.pathname !== (this.options.path ?? "/ws")) return false;
    if (!this.accepting) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n" +
        JSON.stringify({ error: { code: "shutting_down", message: "this node is shutting down; retry on another node" } }));
      return true;
    }
    const { security, stats } = this.options;
    // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 (or later) request; ws itself does not check.
    if (request.httpVersionMajor < 1 || (request.httpVersionMajor === 1 && request.httpVersionMinor < 1)) {
      stats.countError("unsupported_http_version");
      refuseUpgrade(socket, 400, "Bad Request", "unsupported_http_version", `a WebSocket upgrade needs HTTP/1.1 or later; this request is HTTP/${request.httpVersion}`);
      return true;
    }
    // Refusals come before the upgrade: a hijacking page or a flood never gets a session.
    const originProblem = security.origins.check(request.headers);
    if (originProblem) {
      stats.countError("origin_not_allowed");
      refuseUpgrade(socket, 403, "Forbidden", "origin_not_allowed", originProblem);
      return true;
    }
    const remote = request.socket.remoteAddress ?? "unknown";
    const admission = security.connections.admit(remote);
    if (!admission.ok) {
      stats.countError("too_many_connections");
      refuseUpgrade(socket, 429, "Too Many Requests", "too_many_connections", admission.message);
      return true;
    }
    socket.once("close", admission.release);
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const envelope = resolution?.ok ? resolution.envelope : "herald";
      const session = new WebSocketSession(randomUUID(), remote, envelope, ws, socket, this.options.sendQueueBytes, this.options.stats);
      this.accept(session, url, resolution, request);
    });
    return true;
  }

  /** Stops accepting and closes every connection with 1001 so clients reconnect elsewhere. */
  close(reason = "server shutting down; reconnect"): void {
    this.accepting = false;
    clearInterval(this.heartbeat);
    for (const session of this.sessions) session.close(CloseCodes.going_away.code, reason);
    this.server.close();
  }

  private accept(session: WebSocketSession, url: URL, resolution: ReturnType<RouteTable["resolve"]>, request: IncomingMessage): void {
    const { hub, logger } = this.options;
    const ws = session.socket;
    this.sessions.add(session);
    hub.addSession(session);

    ws.on("message", (data, isBinary) => this.onMessage(session, data, isBinary));
    ws.on("pong", () => {
      session.heard = true;
    });
    ws.on("error", (error: Error & { code?: string }) => {
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
        this.options.stats.countError("frame_too_large");
        this.options.security.hits.hit("frame_size");
      }
      logger.debug({ connectionId: session.id, err: error.message }, "websocket error");
    });
    ws.on("close", () => {
      session.closed = true;
      if (session.idleTimer) clearTimeout(session.idleTimer);
      this.sessions.delete(session);
      this.awaitingAuth.delete(session);
      this.authenticating.delete(session);
      void hub.removeSession(session);
    });

    session.sendFrame({ type: "connected", connectionId: session.id, node: this.options.node, pingInterval: this.options.pingInterval });

    if (resolution && !resolution.ok) {
      this.options.stats.countError("invalid_param");
      session.sendFrame({ type: "error", code: "invalid_param", message: resolution.message });
      session.close(CloseCodes.bad_request.code, truncateReason(resolution.message));
      return;
    }

    session.idleTimer = setTimeout(() => {
      if (!session.engaged) session.close(CloseCodes.idle_timeout.code, "no subscribe or auth frame in time; subscribe after connecting");
    }, this.options.idleTimeout);
    session.idleTimer.unref();

    const token = tokenFromRequest(url.searchParams, request.headers, this.options.security.cookieName);
    let start: Promise<void>;
    if (token) {
      start = hub.authenticate(session, token).then(() => this.engage(session));
      this.authenticating.set(session, start);
      void start.catch(() => undefined).finally(() => this.authenticating.delete(session));
    }
    else if (hub.mustAuthenticate(session)) start = new Promise((resolve) => this.awaitingAuth.set(session, resolve));
    else start = Promise.resolve();
    void start
      .then(async () => {
        if (!resolution) return;
        session.user ??= resolution.user;
        session.subscriptionsFixed = !resolution.allowSubscribe;
        for (const channel of resolution.channels) {
          if (session.closed) return;
          this.engage(session);
          await hub.subscribe(session, channel, { granted: resolution.grant });
        }
      })
      .catch((error: unknown) => this.fail(session, error, undefined, true));
  }

  private engage(session: WebSocketSession): void {
    session.engaged = true;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
  }

  private onMessage(session: WebSocketSession, data: RawData, isBinary: boolean): void {
    session.heard = true;
    if (session.closed) return;
    const verdict = this.options.security.frames.check(session);
    if (verdict !== "accept") {
      if (verdict === "warn") this.sendError(session, "rate_limited", `more than ${this.options.security.frames.rate} frames per second; frames are dropped until you slow down`);
      if (verdict === "close") session.close(CloseCodes.policy_violation.code, "frame flood: too many frames per second");
      return;
    }
    if (isBinary) {
      this.sendError(session, "invalid_frame", "send text frames holding one JSON object; binary frames are not read");
      return;
    }
    const parsed = parseClientFrame(data.toString());
    if (!parsed.ok) {
      this.sendError(session, parsed.code, parsed.message, parsed.id);
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "ping" || frame.type === "pong") {
      void this.handle(session, frame);
      return;
    }
    // Requests of one connection are handled in the order sent, so an `auth` frame takes effect
    // before the `subscribe` that follows it, and all of them wait for a token given in the URL
    // or a cookie to be checked. Pings skip the line: liveness must not wait on recovery.
    // A failed authentication closes the connection; the frames that waited for it are dropped.
    const authenticating = this.authenticating.get(session)?.catch(() => undefined);
    session.requests = session.requests
      .then(() => authenticating)
      .then(() => (session.closed ? undefined : this.handle(session, frame)))
      // A failed `auth` frame ends the connection (a stale token included); other requests fail alone.
      .catch((error: unknown) => this.fail(session, error, "id" in frame ? frame.id : undefined, frame.type === "auth"));
  }

  private async handle(session: WebSocketSession, frame: ClientFrame): Promise<void> {
    const hub = this.options.hub;
    if (frame.type !== "auth" && frame.type !== "ping" && frame.type !== "pong" && hub.mustAuthenticate(session)) {
      throw new HubError("unauthorized", "authenticate first: send an auth frame, ?token= or the auth cookie");
    }
    switch (frame.type) {
      case "ping":
        session.sendText(PONG_FRAME);
        return;
      case "pong":
        return;
      case "auth": {
        await hub.authenticate(session, frame.token);
        this.engage(session);
        const resume = this.awaitingAuth.get(session);
        this.awaitingAuth.delete(session);
        resume?.();
        return;
      }
      case "subscribe":
        if (session.subscriptionsFixed) throw new HubError("forbidden", "this route's subscriptions are fixed; connect to /ws to choose channels");
        this.engage(session);
        await hub.subscribe(session, frame.channel, frame);
        return;
      case "unsubscribe":
        if (session.subscriptionsFixed) throw new HubError("forbidden", "this route's subscriptions are fixed; close the connection instead");
        await hub.unsubscribe(session, frame.channel);
        session.sendFrame(frame.id === undefined ? { type: "unsubscribed", channel: frame.channel } : { type: "unsubscribed", id: frame.id, channel: frame.channel });
        return;
      case "publish": {
        const event = await hub.publishFromClient(session, frame.channel, frame.event, frame.data);
        const published = { type: "published" as const, channel: frame.channel, epoch: event.epoch, offset: event.offset };
        session.sendFrame(frame.id === undefined ? published : { ...published, id: frame.id });
        return;
      }
    }
  }

  /** Answers a failed request: an error frame for what the client can fix, a close for what it cannot. */
  private fail(session: WebSocketSession, error: unknown, id: string | number | undefined, fatal: boolean): void {
    const { code, message } = errorFrameFields(error);
    if (code === "internal_error") this.options.logger.error({ err: error, connectionId: session.id }, "unexpected error handling a frame");
    this.sendError(session, code, message, id);
    // token_expired on a subscribe keeps the connection: the client refreshes with an `auth` frame.
    const authProblem = code === "unauthorized" || code === "forbidden";
    if (!fatal && !authProblem) return;
    session.close(closeCodeFor(code), truncateReason(message));
  }

  private sendError(session: WebSocketSession, code: ErrorCode, message: string, id?: string | number): void {
    this.options.stats.countError(code);
    session.sendFrame(id === undefined ? { type: "error", code, message } : { type: "error", id, code, message });
  }

  private tick(): void {
    for (const session of this.sessions) {
      if (!session.heard) {
        session.close(CloseCodes.ping_timeout.code, `no pong within ${Math.round(this.options.pingInterval / 1000)}s`);
        continue;
      }
      session.heard = false;
      session.sendText(PING_FRAME);
      try {
        session.socket.ping();
      } catch {
        // The socket closed between the check and the ping; its close handler cleans up.
      }
    }
  }
}

/** The close code for a failure that ends the connection: stop for the client's own faults, reconnect for the server's. */
function closeCodeFor(code: ErrorCode): number {
  switch (code) {
    case "unauthorized":
    case "token_expired":
      return CloseCodes.unauthorized.code;
    case "forbidden":
      return CloseCodes.forbidden.code;
    case "engine_unavailable":
    case "engine_timeout":
    case "shutting_down":
    case "internal_error":
      return CloseCodes.internal_error.code;
    default:
      return CloseCodes.bad_request.code;
  }
}

/** Answers an upgrade request with an HTTP error instead of switching protocols. */
function refuseUpgrade(socket: Duplex, status: number, statusText: string, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** WebSocket close reasons are limited to 123 bytes. */
function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason);
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "") + "...";
}
