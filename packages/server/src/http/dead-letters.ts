/**
 * `POST /api/admin/dead-letters/retry`: queues the sinks' dead letters again, with fresh tries
 * (the dashboard's retry buttons). Admin only. The body picks which:
 *
 *   {}                                         every dead letter of every sink
 *   {"sink":"webhooks"}                        every webhook dead letter ("email": every email one)
 *   {"sink":"webhooks","url":"…"}              one endpoint's
 *   {"sink":"webhooks","url":"…","id":"…"}     one delivery ({"sink":"email","id":"…"} for an email)
 *   {"sink":"pusher"}                          every Pusher webhook dead letter (with url and id as above)
 *
 * Answers `{"retried": n}`. With a durable store (Redis, PostgreSQL) any node retries any dead
 * letter; with the memory store, only the node that holds it.
 */

import type { FastifyInstance } from "fastify";
import type { DeadLetterFilter, HttpContext } from "../transports/http-context.js";
import { ADMIN_ONLY } from "../auth/admin-guard.js";
import { HeraldError } from "../shared/herald-error.js";

export function registerDeadLetters(app: FastifyInstance, context: HttpContext): void {
  app.post("/api/admin/dead-letters/retry", async (request) => {
    if (!context.security.admin.allows(request.raw)) throw new HeraldError("unauthorized", ADMIN_ONLY);
    const filter = readFilter(request.body);
    return { retried: context.retryDeadLetters ? await context.retryDeadLetters(filter) : 0 };
  });
}

function readFilter(body: unknown): DeadLetterFilter {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new HeraldError("invalid_body", 'send a JSON object: {}, {"sink":"webhooks"|"email"|"pusher"}, with "url" and "id" to pick one');
  const { sink, url, id, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new HeraldError("invalid_body", `unknown field ${JSON.stringify(unknown[0])}; the fields are sink, url and id`);
  if (sink !== undefined && sink !== "email" && sink !== "webhooks" && sink !== "pusher") throw new HeraldError("invalid_body", 'sink is "email", "webhooks" or "pusher" (the Pusher apps\' webhooks)');
  if (url !== undefined && typeof url !== "string") throw new HeraldError("invalid_body", "url is a string: the webhook endpoint's URL");
  if (id !== undefined && typeof id !== "string") throw new HeraldError("invalid_body", "id is a string: the delivery id of the dead letter");
  return { ...(sink === undefined ? {} : { sink }), ...(url === undefined ? {} : { url }), ...(id === undefined ? {} : { id }) };
}
