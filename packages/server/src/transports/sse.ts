/**
 * Server-Sent Events at `GET /sse?channel=…`: `event:` is the frame type, `id:` a cursor of every
 * channel's position, `data:` the same JSON frame a WebSocket client gets. A reconnecting
 * EventSource sends `Last-Event-ID`, and the stream resumes each channel from there.
 */

import { randomUUID } from "node:crypto";
import { isRetryable } from "@herald/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "./http-context.js";
import { HubError, errorFrameFields } from "../hub/hub-error.js";
import { SseSession } from "./sse-session.js";
import { channelsFromQuery, cursorFromText, firstString } from "./query.js";
import { HttpError } from "./http-error.js";
import { tokenFromRequest } from "../auth/token-source.js";

const PING = 'event: ping\ndata: {"type":"ping"}\n\n';

export function registerSse(app: FastifyInstance, context: HttpContext): { close(): void } {
  const sessions = new Set<SseSession>();
  const heartbeat = setInterval(() => {
    for (const session of sessions) session.writeRaw(PING);
  }, context.config.pingInterval);
  heartbeat.unref();

  app.get("/sse", async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const channels = channelsFromQuery(query.channel, context.config.maxSubscriptionsPerConnection);
    const lastEventId = firstString(request.headers["last-event-id"]) ?? firstString(query.lastEventId);
    const cursor = cursorFromText(lastEventId, "Last-Event-ID");
    if (!context.accepting()) throw new HubError("shutting_down", "this node is shutting down; retry on another node");
    const { security } = context;
    // EventSource sends cookies cross-site like a WebSocket does: the same Origin check applies.
    const originProblem = security.origins.check(request.headers);
    if (originProblem) throw new HttpError("origin_not_allowed", originProblem);

    const session = new SseSession(randomUUID(), request.ip, reply.raw, context.config.sendQueueBytes, context.stats, cursor);
    const token = tokenFromRequest(query, request.headers, security.cookieName);
    if (token) await context.hub.authenticate(session, token);
    else if (context.hub.mustAuthenticate(session)) throw new HttpError("unauthorized", "authenticate: ?token= or the auth cookie");
    const admission = security.connections.admit(request.socket.remoteAddress ?? request.ip);
    if (!admission.ok) throw new HttpError("too_many_connections", admission.message);

    reply.hijack();
    // The client may have gone while the token was checked: its close event has fired already.
    if (request.raw.destroyed) {
      admission.release();
      return;
    }
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    reply.raw.write("retry: 1000\n\n");
    sessions.add(session);
    context.hub.addSession(session);
    request.raw.on("close", () => {
      admission.release();
      session.closed = true;
      sessions.delete(session);
      void context.hub.removeSession(session);
    });
    session.sendFrame({ type: "connected", connectionId: session.id, node: context.node, pingInterval: context.config.pingInterval });
    // The hub undoes a subscribe whose session closed meanwhile; stopping here saves the work.
    for (const channel of channels) {
      if (session.closed) return;
      const since = cursor?.[channel];
      try {
        await context.hub.subscribe(session, channel, since ? { since, ...(token ? { token } : {}) } : token ? { token } : {});
      } catch (error) {
        const { code, message } = errorFrameFields(error);
        if (code === "internal_error") context.logger.error({ err: error, connectionId: session.id }, "sse subscribe failed");
        context.stats.countError(code);
        session.sendFrame({ type: "error", channel, code, message: `${channel}: ${message}` });
        // A stream cannot ask again for one channel: when asking again later can succeed, the
        // stream ends, so that the client (an EventSource by itself, @herald/client with backoff)
        // reconnects and resumes every channel from its cursor. Other refusals are final.
        if (isRetryable(code)) {
          session.close();
          return;
        }
      }
    }
  });

  return {
    close() {
      clearInterval(heartbeat);
      for (const session of sessions) session.close();
    },
  };
}
