/**
 * `POST /api/ack`: acknowledgements from clients that cannot send an `ack` frame (SSE, polling).
 *
 * Body `{"channel", "offset", "connectionId"}` from an SSE client (the id its `connected` record
 * gave): counted like the WebSocket frame, for that connection's subscriptions and offsets it was
 * sent. A connection with a user accepts acknowledgements only from a request that authenticates
 * as that user (token or cookie), so a connection id seen elsewhere (presence lists show them)
 * does not let anyone acknowledge for someone else.
 *
 * Body `{"channel", "offset", "epoch"}` from a polling client (it holds no connection): the
 * request must name a user (token or cookie) who may read the channel, and the position must
 * exist in the stream now. Answers `{"counted": true|false}`; an acknowledgement that does not
 * count is ignored (and counted in `herald_acks_ignored_total`), not refused.
 */

import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { channelProblem } from "@herald/protocol";
import type { HttpContext } from "./http-context.js";
import { PassiveSession } from "../hub/passive-session.js";
import { requireJson } from "./json-body.js";
import { HeraldError } from "../shared/herald-error.js";

interface AckBody {
  readonly channel: string;
  readonly offset: number;
  readonly connectionId?: string;
  readonly epoch?: string;
}

export function registerAck(app: FastifyInstance, context: HttpContext): void {
  app.post("/api/ack", async (request) => {
    requireJson(request.headers);
    const body = readBody(request.body);
    const query = request.query as Record<string, unknown>;
    const arrival = context.admission.arrival(request.raw, query);
    context.admission.enter(arrival, false);
    const caller = new PassiveSession(randomUUID(), "polling", arrival.address, "herald");
    const token = await context.admission.authenticate(caller, arrival);
    const receipts = context.hub.receipts;
    if (body.connectionId !== undefined) {
      const session = context.hub.session(body.connectionId);
      // Another node's connection, or one that closed: nothing here can vouch for it.
      if (session === undefined || (session.user !== undefined && session.user !== caller.user)) {
        context.stats.acksIgnored += 1;
        return { counted: false };
      }
      return { counted: await receipts.acknowledge(session, body.channel, body.offset) };
    }
    if (body.epoch === undefined) throw new HeraldError("invalid_body", "give connectionId (an SSE connection) or epoch (a poll's position) with channel and offset");
    if (caller.user === undefined) throw new HeraldError("unauthorized", "a poll holds no connection: acknowledge as a user, with a token or the auth cookie");
    await context.hub.authorizeRead(caller, body.channel, token);
    return { counted: await receipts.acknowledgeAsUser(caller.user, body.channel, body.epoch, body.offset) };
  });
}

function readBody(body: unknown): AckBody {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HeraldError("invalid_body", "send {channel, offset, connectionId} or {channel, offset, epoch}");
  const { channel, offset, connectionId, epoch } = body as Record<string, unknown>;
  const problem = channelProblem(channel);
  if (problem) throw new HeraldError(typeof channel === "string" ? "invalid_channel" : "invalid_body", problem);
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 1) throw new HeraldError("invalid_body", "offset must be a whole number >= 1");
  if (connectionId !== undefined && (typeof connectionId !== "string" || connectionId.length === 0 || connectionId.length > 64)) throw new HeraldError("invalid_body", "connectionId must be the id of the connected record");
  if (epoch !== undefined && (typeof epoch !== "string" || epoch.length === 0 || epoch.length > 64)) throw new HeraldError("invalid_body", "epoch must be a non-empty string");
  return { channel: channel as string, offset, ...(connectionId === undefined ? {} : { connectionId: connectionId as string }), ...(epoch === undefined ? {} : { epoch: epoch as string }) };
}
