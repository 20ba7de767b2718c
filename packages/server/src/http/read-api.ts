/**
 * `GET /api/history?channel=…[&since=<offset>][&limit=N]`, `GET /api/presence?channel=…` and
 * `GET /api/receipts?channel=…[&user=…]` (the backend only).
 * Whoever may subscribe to a channel may read these. A backend reads any channel by presenting a
 * configured API key or a valid HMAC signature; coming from loopback counts for nothing here,
 * since behind a reverse proxy on the same host every browser comes from loopback.
 */

import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { channelProblem } from "@herald/protocol";
import type { HttpContext } from "../transports/http-context.js";
import { PreparedEvent } from "../hub/prepared-event.js";
import { PassiveSession } from "../hub/passive-session.js";
import { firstString } from "../transports/query.js";
import { HmacVerifier } from "../auth/hmac-signature.js";
import { HeraldError } from "../shared/herald-error.js";


export function registerReadApi(app: FastifyInstance, context: HttpContext): void {
  async function channelFor(request: FastifyRequest): Promise<string> {
    const query = request.query as Record<string, unknown>;
    const channel = firstString(query.channel);
    if (channel === undefined) throw new HeraldError("invalid_param", "give the channel: ?channel=<name>");
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    if (isBackend(request)) return channel;
    // A read answers at once: it takes no slot of the connection limits.
    const arrival = context.admission.arrival(request.raw, query);
    context.admission.enter(arrival, false);
    const session = new PassiveSession(randomUUID(), "polling", arrival.address, "herald");
    const token = await context.admission.authenticate(session, arrival);
    await context.hub.authorizeRead(session, channel, token);
    return channel;
  }

  /**
   * True when the caller proves it is the backend. A credential that is presented but not valid is
   * refused (401) rather than ignored, so nobody mistakes a wrong key for a working one.
   */
  function isBackend(request: FastifyRequest): boolean {
    const { authorization } = request.headers;
    if (authorization !== undefined) {
      const key = context.apiKeys.verify(authorization);
      if (!key.ok) throw new HeraldError("unauthorized", key.message);
      return true;
    }
    if (!HmacVerifier.isSigned(request.headers)) return false;
    const { hmac } = context.security;
    if (!hmac.configured) throw new HeraldError("invalid_signature", "this hub has no publish.hmacKeys; read with a token, or an API key as Authorization: Bearer <key>");
    // A read has no body: the signature covers the request target, so it cannot be moved to another channel.
    hmac.claim(hmac.verify(request.headers, request.url).replayKey);
    return true;
  }

  app.get("/api/history", async (request) => {
    const channel = await channelFor(request);
    const query = request.query as Record<string, unknown>;
    const sinceText = firstString(query.since);
    const limitText = firstString(query.limit);
    const since = sinceText === undefined ? undefined : Number(sinceText);
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new HeraldError("invalid_param", "since must be an offset (a whole number >= 0)");
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new HeraldError("invalid_param", "limit must be a whole number >= 1");
    const history = await context.hub.history(channel, { ...(since === undefined ? {} : { since }), ...(limit === undefined ? {} : { limit }) });
    return {
      channel,
      epoch: history.epoch,
      offset: history.offset,
      complete: history.complete,
      events: history.events.map((event) => new PreparedEvent(event).frame()),
    };
  });

  // Receipts say what each user has seen: for the backend alone, with the publish API's credentials.
  app.get("/api/receipts", async (request) => {
    const query = request.query as Record<string, unknown>;
    const channel = firstString(query.channel);
    if (channel === undefined) throw new HeraldError("invalid_param", "give the channel: ?channel=<name>");
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    if (!isBackend(request)) throw new HeraldError("unauthorized", "receipts are for the backend: send an API key as Authorization: Bearer <key>, or sign the request");
    const user = firstString(query.user);
    if (user !== undefined && user.length === 0) throw new HeraldError("invalid_param", "user must not be empty; leave it out for every reader");
    return context.hub.receipts.read(channel, user);
  });

  app.get("/api/presence", async (request) => {
    const channel = await channelFor(request);
    const options = context.hub.channelOptions(channel);
    if (!options.presence) {
      throw new HeraldError("forbidden", `presence is off for namespace "${options.namespace}"; set namespaces.${options.namespace || '""'}.presence: true`);
    }
    const clients = await context.hub.presence(channel);
    return { channel, count: clients.length, users: [...new Set(clients.flatMap((c) => (c.user ? [c.user] : [])))].length, clients };
  });
}
