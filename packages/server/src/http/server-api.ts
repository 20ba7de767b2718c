/**
 * The server API: what the backend does to connections and asks about channels, cluster-wide.
 *
 *   POST /api/disconnect    {"user","reconnect?","reason?"}   ends the user's connections on every node
 *   POST /api/unsubscribe   {"user","channel","reason?"}      removes the user's subscriptions to a channel
 *   POST /api/subscribe     {"user","channel"}                subscribes the user's connections to a channel
 *   GET  /api/channels?prefix=&limit=                         channels with their subscribers
 *   GET  /api/channels/<channel>                              one channel's subscribers, users, presence
 *
 * Callers are admitted as publishers are (backendCredential: API key, signed request, or loopback
 * where nothing is configured; a GET's signature covers its request target, like a signed read),
 * or with the admin token, so the dashboard can use them. Every answer says how many nodes
 * answered (`nodes`) and how many got the request but did not answer in time (`unanswered`).
 */

import type { FastifyInstance, FastifyRequest } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { firstString } from "../transports/query.js";
import { backendCredential } from "../auth/backend-credential.js";
import { requireJson } from "../transports/json-body.js";
import { HeraldError } from "../shared/herald-error.js";

const MAX_LIMIT = 10_000;
const MAX_PREFIX = 255;

export function registerServerApi(app: FastifyInstance, context: HttpContext): void {
  const { hmac, admin } = context.security;

  /** Admits the backend or the admin; `signed` is what a signature covers. Returns who it is, for the log. */
  function admit(request: FastifyRequest, signed: string): string {
    if (!context.accepting()) throw new HeraldError("shutting_down", "this node is shutting down; send the request to another node");
    if (admin.allows(request.raw)) return "admin";
    const credential = backendCredential({ headers: request.headers, peer: request.socket.remoteAddress, signed }, context.apiKeys, context.security);
    if (credential.replayKey !== undefined) hmac.claim(credential.replayKey);
    return credential.name;
  }

  /**
   * A POST route: admits the caller, checks that the body is a JSON object holding only `fields`,
   * runs the action and logs it (info) with who asked, since who disconnected whom deserves an audit line.
   */
  function action<T extends object>(
    path: string,
    fields: readonly string[],
    run: (body: Record<string, unknown>) => Promise<T>,
  ): void {
    app.post(path, async (request) => {
      const by = admit(request, request.rawBody ?? "");
      requireJson(request.headers);
      const body = request.body;
      const shape = `{${fields.map((field) => `"${field}"`).join(",")}}`;
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HeraldError("invalid_body", `the body must be a JSON object: ${shape}`);
      for (const field of Object.keys(body)) {
        if (!fields.includes(field)) throw new HeraldError("invalid_body", `unknown field ${JSON.stringify(field.slice(0, 40))}; this route takes ${shape}`);
      }
      const result = await run(body as Record<string, unknown>);
      request.log.info({ reqId: request.id, serverApi: path, by, ...(result as Record<string, unknown>) }, "server API action");
      return result;
    });
  }

  action("/api/disconnect", ["user", "reconnect", "reason"], (body) => {
    if (body.reconnect !== undefined && typeof body.reconnect !== "boolean") {
      throw new HeraldError("invalid_body", "reconnect must be true (the clients reconnect at once) or false (they stop; the default)");
    }
    return context.actions.disconnect(body.user as string, { reconnect: body.reconnect as boolean | undefined, reason: body.reason as string | undefined });
  });

  action("/api/unsubscribe", ["user", "channel", "reason"], (body) => context.actions.unsubscribe(body.user as string, body.channel as string, body.reason as string | undefined));

  action("/api/subscribe", ["user", "channel"], (body) => context.actions.subscribe(body.user as string, body.channel as string));

  app.get("/api/channels", async (request) => {
    admit(request, request.url);
    const query = request.query as Record<string, unknown>;
    const prefix = firstString(query.prefix) ?? "";
    if (prefix.length > MAX_PREFIX) throw new HeraldError("invalid_param", `prefix may be at most ${MAX_PREFIX} characters`);
    const limitText = firstString(query.limit);
    const limit = limitText === undefined ? 1000 : Number(limitText);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new HeraldError("invalid_param", `limit must be a whole number from 1 to ${MAX_LIMIT}`);
    return context.actions.channels(prefix, limit);
  });

  // A wildcard, not a parameter: channel names may hold "/".
  app.get("/api/channels/*", async (request) => {
    admit(request, request.url);
    const channel = (request.params as { "*": string })["*"];
    if (channel === "") throw new HeraldError("invalid_channel", "name the channel: GET /api/channels/<channel> (URL-encoded), or GET /api/channels to list them");
    return context.actions.channelInfo(channel);
  });
}
