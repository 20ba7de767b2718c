/**
 * Server-Sent Events at `GET /sse?channel=…`: `event:` is the frame type, `id:` a cursor of every
 * channel's position, `data:` the same JSON frame a WebSocket client gets. A reconnecting
 * EventSource sends `Last-Event-ID`, and the stream resumes each channel from there.
 */

import { randomUUID } from "node:crypto";
import { deltaProblem, isChannelPattern, isRetryable } from "@herald/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "./http-context.js";
import { SseSession } from "./sse-session.js";
import { SseHeartbeat, SseStream } from "./sse-stream.js";
import { channelsFromQuery, cursorFromText, firstString, patternAfter, positionsMatching } from "./query.js";
import { filtersFromQuery } from "./query-filters.js";
import type { SubscribeRequest } from "../hub/hub.js";
import { HeraldError } from "../shared/herald-error.js";

export function registerSse(app: FastifyInstance, context: HttpContext): { close(): void } {
  const heartbeat = new SseHeartbeat<SseSession>(context.config.pingInterval);
  const sessions = heartbeat.streams;

  app.get("/sse", async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const channels = channelsFromQuery(query.channel, context.config.maxSubscriptionsPerConnection, true);
    const deltaAsked = query.delta !== undefined;
    const problem = deltaAsked ? deltaProblem(query.delta) : undefined;
    if (problem) throw new HeraldError("unsupported_delta", `delta: ${problem}`);
    const filters = filtersFromQuery(query, channels);
    const lastEventId = firstString(request.headers["last-event-id"]) ?? firstString(query.lastEventId);
    const cursor = cursorFromText(lastEventId, "Last-Event-ID");
    const arrival = context.admission.arrival(request.raw, query);
    const slot = context.admission.enter(arrival, true);
    const stream = new SseStream(reply.raw);
    const session = new SseSession(randomUUID(), arrival.address, stream, context.config.sendQueueBytes, context.stats, cursor);
    let token: string | undefined;
    try {
      token = await context.admission.authenticate(session, arrival);
    } catch (error) {
      slot.release();
      throw error;
    }

    reply.hijack();
    // The client may have gone while the token was checked: its close event has fired already.
    if (request.raw.destroyed) {
      slot.release();
      return;
    }
    stream.open();
    sessions.add(session);
    context.hub.addSession(session);
    request.raw.on("close", () => {
      slot.release();
      session.closed = true;
      sessions.delete(session);
      void context.hub.removeSession(session);
    });
    session.sendFrame({ type: "connected", connectionId: session.id, node: context.node, pingInterval: context.config.pingInterval });
    // The hub undoes a subscribe whose session closed meanwhile; stopping here saves the work.
    for (const channel of channels) {
      if (session.closed) return;
      const pattern = isChannelPattern(channel);
      const since = pattern ? undefined : cursor?.[channel];
      // A pattern resumes each of its channels the cursor holds, and looks for the channels that
      // started matching since the time the cursor holds under its own name.
      const positions = pattern ? positionsMatching(cursor, channel) : undefined;
      const after = pattern ? patternAfter(cursor, channel) : undefined;
      const filter = filters.get(channel);
      const subscribe: SubscribeRequest = { ...(since ? { since } : {}), ...(positions ? { positions } : {}), ...(after ? { after } : {}), ...(token ? { token } : {}), ...(deltaAsked ? { delta: "fossil" as const } : {}), ...(filter === undefined ? {} : { filter }) };
      try {
        await context.hub.subscribe(session, channel, subscribe);
      } catch (error) {
        const { code, message } = HeraldError.from(error);
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
      heartbeat.stop();
      for (const session of sessions) session.close();
    },
  };
}
