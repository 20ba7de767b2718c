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
import { WebSocketServer, type RawData, type Server, type WebSocket } from "ws";
import { CloseCodes, FORMAT_PARAM, FORMAT_SUBPROTOCOLS, requestedWireFormat, type ClientFrame, type ErrorCode, type WireFormat } from "@herald/protocol";
import type { Logger } from "pino";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import { NO_REQUESTS, WebSocketSession } from "./websocket-session.js";
import { MsgpackWebSocketSession } from "./msgpack-websocket-session.js";
import type { RouteTable } from "./routes.js";
import type { SecurityContext } from "../auth/security-context.js";
import type { AdmissionSlot } from "../limits/connection-limiter.js";
import type { Admission, Arrival } from "./admission.js";
import { refuseUpgrade } from "./refuse-upgrade.js";
import { SessionSocket } from "./session-socket.js";
import type { HeraldConfig } from "../config/schema.js";
import { HeraldError } from "../shared/herald-error.js";

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
  readonly admission: Admission;
  /** permessage-deflate: off unless configured; `maxPayload` bounds the inflated size either way. */
  readonly perMessageDeflate?: HeraldConfig["websocket"]["perMessageDeflate"];
  /** Path of the plain protocol endpoint. */
  readonly path?: string;
}

export class WebSocketTransport {
  private readonly server: Server<typeof SessionSocket>;
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
      handleProtocols: chooseSubprotocol,
      WebSocket: SessionSocket,
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
    const { stats } = this.options;
    // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 (or later) request; ws itself does not check.
    if (request.httpVersionMajor < 1 || (request.httpVersionMajor === 1 && request.httpVersionMinor < 1)) {
      this.refuse(socket, new HeraldError("unsupported_http_version", `a WebSocket upgrade needs HTTP/1.1 or later; this request is HTTP/${request.httpVersion}`));
      return true;
    }
    const format = requestedWireFormat(url.searchParams.get(FORMAT_PARAM), offeredSubprotocols(request));
    if (typeof format !== "string") {
      this.refuse(socket, new HeraldError("invalid_param", format.problem));
      return true;
    }
    const arrival = this.options.admission.arrival(request, url.searchParams);
    const remote = arrival.address;
    let slot: AdmissionSlot;
    try {
      if (!this.accepting) throw new HeraldError("shutting_down", "this node is shutting down; retry on another node");
      // Refusals come before the upgrade: a hijacking page or a flood never gets a session.
      slot = this.options.admission.enter(arrival, true);
    } catch (error) {
      this.refuse(socket, HeraldError.from(error));
      return true;
    }
    // Until the upgrade completes the raw socket's close gives the slot back; after it, the session's.
    const release = (): void => slot.release();
    socket.once("close", release);
    // The 101 answer and the `connected` frame leave in one write: a write is a syscall, the
    // largest single cost of accepting a connection.
    socket.cork();
    this.server.handleUpgrade(request, socket, head, (ws) => {
      socket.removeListener("close", release);
      const envelope = resolution?.ok ? resolution.envelope : "herald";
      const Session = format === "msgpack" ? MsgpackWebSocketSession : WebSocketSession;
      const session = new Session(randomUUID(), remote, envelope, ws, socket, this.options.sendQueueBytes, this.options.stats);
      session.admission = slot;
      ws.session = session;
      this.accept(session, resolution, arrival);
    });
    socket.uncork();
    return true;
  }

  /** Stops accepting and closes every connection with 1001 so clients reconnect elsewhere. */
  close(reason = "server shutting down; reconnect"): void {
    this.accepting = false;
    clearInterval(this.heartbeat);
    for (const session of this.sessions) session.close(CloseCodes.going_away.code, reason);
    this.server.close();
  }

  private refuse(socket: Duplex, error: HeraldError): void {
    this.options.stats.countError(error.code);
    refuseUpgrade(socket, error);
  }

  private accept(session: WebSocketSession, resolution: ReturnType<RouteTable["resolve"]>, arrival: Arrival): void {
    const { hub, logger } = this.options;
    const ws = session.socket;
    this.sessions.add(session);
    hub.addSession(session);

    ws.on("message", this.listeners.message);
    ws.on("pong", this.listeners.pong);
    ws.on("error", this.listeners.error);
    ws.on("close", this.listeners.close);

    session.sendFrame({ type: "connected", connectionId: session.id, node: this.options.node, pingInterval: this.options.pingInterval });

    if (resolution && !resolution.ok) {
      this.options.stats.countError("invalid_param");
      session.sendFrame({ type: "error", code: "invalid_param", message: resolution.message });
      session.close(CloseCodes.bad_request.code, resolution.message);
      return;
    }

    session.idleTimer = setTimeout(() => {
      // A subscription the server made (server API) engages it too.
      if (!session.engaged && session.subscriptions.size === 0) session.close(CloseCodes.idle_timeout.code, "no subscribe or auth frame in time; subscribe after connecting");
    }, this.options.idleTimeout);
    session.idleTimer.unref();

    // A route stands for a client written against its URL alone (a seed's page): it has no `auth`
    // frame to send, so a route connection without a token where one is required is refused at once.
    const authenticated = this.options.admission.authenticate(session, arrival, resolution === undefined);
    const start = authenticated.then((token) => {
      if (token) this.engage(session);
      else if (hub.mustAuthenticate(session)) return new Promise<void>((resolve) => this.awaitingAuth.set(session, resolve));
      return undefined;
    });
    const routed = start.then(async () => {
      if (!resolution) return;
      session.user ??= resolution.user;
      session.subscriptionsFixed = !resolution.allowSubscribe;
      for (const channel of resolution.channels) {
        if (session.closed) return;
        this.engage(session);
        await hub.subscribe(session, channel, { granted: resolution.grant, automatic: true });
      }
    });
    // The client's frames wait for the token check and, on a route, for its subscriptions, so a
    // client that subscribes to a route's channel itself adopts that subscription (Hub.adopt).
    const settled = (resolution ? routed : authenticated).then(() => undefined, () => undefined);
    this.authenticating.set(session, settled);
    void settled.finally(() => this.authenticating.delete(session));
    void routed.catch((error: unknown) => this.fail(session, error, undefined, true));
  }

  /** One set of listeners for every connection, finding the session from the socket (`this` in a ws listener). */
  private readonly listeners = listenersFor(this);

  /** The socket closed: the session is over on this node. */
  onClosed(session: WebSocketSession): void {
    session.closed = true;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    this.sessions.delete(session);
    this.awaitingAuth.delete(session);
    this.authenticating.delete(session);
    session.admission?.release();
    void this.options.hub.removeSession(session);
  }

  onSocketError(session: WebSocketSession, error: Error & { code?: string }): void {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      this.options.stats.countError("frame_too_large");
      this.options.security.hits.hit("frame_size");
    }
    this.options.logger.debug({ connectionId: session.id, err: error.message }, "websocket error");
  }

  private engage(session: WebSocketSession): void {
    session.engaged = true;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
  }

  onMessage(session: WebSocketSession, data: RawData, isBinary: boolean): void {
    session.heard = true;
    if (session.closed) return;
    const verdict = this.options.security.frames.check(session);
    if (verdict !== "accept") {
      if (verdict === "warn") this.sendError(session, "rate_limited", `more than ${this.options.security.frames.rate} frames per second; frames are dropped until you slow down`);
      if (verdict === "close") session.close(CloseCodes.policy_violation.code, "frame flood: too many frames per second");
      return;
    }
    const parsed = session.readFrame(data, isBinary);
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
    const tail = session.requests
      .then(() => authenticating)
      .then(() => (session.closed ? undefined : this.handle(session, frame)))
      // A failed `auth` frame ends the connection (a stale token included); other requests fail alone.
      .catch((error: unknown) => this.fail(session, error, "id" in frame ? frame.id : undefined, frame.type === "auth"))
      // Once the line is empty an idle connection holds no promise of its own.
      .finally(() => {
        if (session.requests === tail) session.requests = NO_REQUESTS;
      });
    session.requests = tail;
  }

  private async handle(session: WebSocketSession, frame: ClientFrame): Promise<void> {
    const hub = this.options.hub;
    if (frame.type !== "auth" && frame.type !== "ping" && frame.type !== "pong" && hub.mustAuthenticate(session)) {
      throw new HeraldError("unauthorized", "authenticate first: send an auth frame, ?token= or the auth cookie");
    }
    switch (frame.type) {
      case "ping":
        session.sendHeartbeat("pong");
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
        if (session.subscriptionsFixed) throw new HeraldError("forbidden", "this route's subscriptions are fixed; connect to /ws to choose channels");
        this.engage(session);
        await hub.subscribe(session, frame.channel, frame);
        return;
      case "unsubscribe":
        if (session.subscriptionsFixed) throw new HeraldError("forbidden", "this route's subscriptions are fixed; close the connection instead");
        await hub.unsubscribe(session, frame.channel);
        session.sendFrame(frame.id === undefined ? { type: "unsubscribed", channel: frame.channel } : { type: "unsubscribed", id: frame.id, channel: frame.channel });
        return;
      case "ack":
        await hub.receipts.acknowledge(session, frame.channel, frame.offset);
        return;
      case "publish": {
        const event = await hub.publishFromClient(session, frame.channel, frame.event, frame.data, frame.tags);
        const published = { type: "published" as const, channel: frame.channel, epoch: event.epoch, offset: event.offset };
        session.sendFrame(frame.id === undefined ? published : { ...published, id: frame.id });
        return;
      }
    }
  }

  /** Answers a failed request: an error frame for what the client can fix, a close for what it cannot. */
  private fail(session: WebSocketSession, error: unknown, id: string | number | undefined, fatal: boolean): void {
    const refusal = HeraldError.from(error);
    const { code, message } = refusal;
    if (code === "internal_error") this.options.logger.error({ err: error, connectionId: session.id }, "unexpected error handling a frame");
    this.sendError(session, code, message, id);
    // A refused subscribe keeps the connection and the client's other subscriptions: `forbidden`
    // is that channel's answer alone, and token_expired is mended with an `auth` frame. Requests
    // made without authenticating where that is required end it.
    if (!fatal && code !== "unauthorized") return;
    session.close(refusal.closeCode, message);
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
      session.sendHeartbeat("ping");
      try {
        session.socket.ping();
      } catch {
        // The socket closed between the check and the ping; its close handler cleans up.
      }
    }
  }
}

function offeredSubprotocols(request: IncomingMessage): Set<string> {
  const header = request.headers["sec-websocket-protocol"];
  return new Set(header === undefined ? [] : header.split(",").map((protocol) => protocol.trim()).filter((protocol) => protocol !== ""));
}

/**
 * Answers with the subprotocol of the format the connection speaks when the client offered it
 * (handleUpgrade already refused a contradicting `format=`); otherwise, as ws does by default,
 * with the client's first, which clients written for another server may expect back.
 */
function chooseSubprotocol(offered: Set<string>, request: IncomingMessage): string | false {
  const url = new URL(request.url ?? "/", "http://localhost");
  const format = requestedWireFormat(url.searchParams.get(FORMAT_PARAM), offered);
  const own = typeof format === "string" ? FORMAT_SUBPROTOCOLS[format satisfies WireFormat] : undefined;
  if (own !== undefined && offered.has(own)) return own;
  return offered.values().next().value ?? false;
}

function listenersFor(transport: WebSocketTransport) {
  return {
    message(this: WebSocket, data: RawData, isBinary: boolean): void {
      const session = (this as SessionSocket).session;
      if (session) transport.onMessage(session, data, isBinary);
    },
    pong(this: WebSocket): void {
      const session = (this as SessionSocket).session;
      if (session) session.heard = true;
    },
    error(this: WebSocket, error: Error & { code?: string }): void {
      const session = (this as SessionSocket).session;
      if (session) transport.onSocketError(session, error);
    },
    close(this: WebSocket): void {
      const session = (this as SessionSocket).session;
      if (session) transport.onClosed(session);
    },
  };
}
