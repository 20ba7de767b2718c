/**
 * `POST /api/publish`: how backends publish.
 *
 *   {"channel":"user:42","type":"balance_update","data":{…}}
 *   {"channels":["user:1","user:2"],"type":"notice","data":{…}}
 *   {"events":[{"channel":"bets","type":"bet_resolved","data":{…}}, …]}
 *   any event may carry "tags":{"symbol":"BTC"} (string → string), matched by subscribers' filters
 *
 * Answers `{"published":[{"channel","type","epoch","offset","timestamp"}, …]}` in request order.
 * Every event of a batch is validated before any is published, so a bad batch publishes nothing.
 *
 * Failure answers say exactly what was stored (see outcomeError): `engine_unavailable` for events
 * surely not stored, `engine_timeout` when the engine may have stored one without confirming it.
 * `Idempotency-Key` makes retries safe: each event's record lives in the engine (shared by every
 * node, for `publish.replayWindow`), so a retry on any node stores only what was not stored and
 * answers the rest with their first offsets (`Idempotent-Replayed: true` when nothing new was stored).
 */

import type { FastifyInstance } from "fastify";
import { channelProblem, eventTypeProblem, type EventTags } from "@herald/protocol";
import { type IdempotencyKey, type PublishedEvent } from "../engine/engine.js";
import { publishReceipt } from "../hub/event-frame.js";
import { checkedTags } from "../hub/tags.js";
import type { HttpContext } from "../transports/http-context.js";
import { backendCredential } from "../auth/backend-credential.js";
import { requireJson } from "../transports/json-body.js";
import { HeraldError, isHeraldError } from "../shared/herald-error.js";
import { SpanKind, contextFromHeaders, contextOf, endSpan, startSpan } from "../shared/tracing.js";

interface PublishItem {
  channel: string;
  type: string;
  data: unknown;
  tags: EventTags | undefined;
}

export function registerPublish(app: FastifyInstance, context: HttpContext): void {
  const { hmac } = context.security;
  const { replayWindow, idempotencyKeys } = context.config.publish;
  app.post("/api/publish", async (request, reply) => {
    if (!context.accepting()) throw new HeraldError("shutting_down", "this node is shutting down and publishes nothing more; retry on another node");
    // Until its answer is written (or the client goes away), a graceful shutdown waits for this request.
    void context.hub.publishes.track(new Promise((resolve) => reply.raw.once("close", resolve)));
    // A signed request proves its key with an HMAC over the raw body; otherwise a bearer API key.
    const { name: credential, replayKey } = backendCredential({ headers: request.headers, peer: request.socket.remoteAddress, signed: request.rawBody ?? "" }, context.apiKeys, context.security);
    const idempotencyKey = request.headers["idempotency-key"];
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== "string" || idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw new HeraldError("invalid_param", "Idempotency-Key must be 1 to 255 characters");
    }
    // `publish.idempotencyKeys: 0` turns the header off.
    const scopedKey = idempotencyKey === undefined || idempotencyKeys === 0 ? undefined : `${credential}\n${idempotencyKey}`;
    // A signature used before is refused as a replay, unless it is the retry of a stored request:
    // that is answered from the engine's idempotency records below.
    let replayRefusal: unknown;
    if (replayKey !== undefined) {
      try {
        hmac.claim(replayKey);
      } catch (error) {
        if (scopedKey === undefined) throw error;
        replayRefusal = error;
      }
    }
    requireJson(request.headers);
    const items = readBody(request.body, context.config.publish.maxBatch);
    // Each event of a request has its own record, so a retry stores exactly the events that were not stored.
    const eventKey = (index: number): IdempotencyKey | undefined => (scopedKey === undefined ? undefined : { key: `${scopedKey}\n${index}`, ttlMs: replayWindow });

    if (replayRefusal !== undefined) {
      const recorded = await Promise.all(items.map((item, index) => context.engine.recall(item.channel, eventKey(index)!.key)));
      if (recorded.some((record) => record === undefined)) throw replayRefusal;
      reply.header("idempotent-replayed", "true");
      return { published: items.map((item, index) => publishReceipt({ ...item, ...recorded[index]! })) };
    }

    // While tracing is on: one span for the request, in the publisher's trace when it sent `traceparent`.
    const span = startSpan("herald.publish", contextFromHeaders(request.headers), { "http.request.method": "POST", "url.path": "/api/publish", "herald.events": items.length }, SpanKind.SERVER);
    const trace = contextOf(span);
    const published = [];
    let replayed = 0;
    for (const [index, item] of items.entries()) {
      let event: PublishedEvent;
      try {
        event = await context.hub.publish(item.channel, item.type, item.data, eventKey(index), undefined, trace, item.tags);
      } catch (error) {
        endSpan(span, error);
        throw outcomeError(error, index, idempotencyKey);
      }
      if (event.replayed) replayed += 1;
      published.push(publishReceipt(event));
    }
    endSpan(span);
    if (replayed === items.length && scopedKey !== undefined) reply.header("idempotent-replayed", "true");
    return { published };
  });
}

/**
 * Says what a failed publish left behind. Events before `index` were stored; the one at `index`
 * was not (engine_unavailable) or may have been (engine_timeout), and the rest were not.
 */
function outcomeError(error: unknown, index: number, idempotencyKey: string | undefined): unknown {
  const before = index === 0 ? "" : `the first ${index} event(s) of this request were stored; `;
  const retry = idempotencyKey === undefined
    ? "this request had no Idempotency-Key, so a retry may store events twice; send one to retry safely"
    : `retry with the same Idempotency-Key (${JSON.stringify(idempotencyKey)}): events already stored are answered, not stored again`;
  if (isHeraldError(error, "engine_timeout")) {
    return new HeraldError("engine_timeout", `the engine did not confirm event ${index} of this request: ${before}its outcome is unknown (it may or may not be stored); ${retry}`, { cause: error, ...(error.detail ? { detail: error.detail } : {}) });
  }
  if (isHeraldError(error, "engine_unavailable")) {
    const stored = index === 0 ? "nothing was published" : `${before}the rest were not`;
    return new HeraldError("engine_unavailable", `the engine is unavailable, ${stored}; ${index === 0 ? "retry shortly" : retry}`, { cause: error, ...(error.detail ? { detail: error.detail } : {}) });
  }
  return error;
}

function readBody(body: unknown, maxBatch: number): PublishItem[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HeraldError("invalid_body", 'body must be a JSON object: {"channel","type","data"}, {"channels":[…],"type","data"} or {"events":[…]}');
  }
  const record = body as Record<string, unknown>;
  if (record.events !== undefined) {
    if (!Array.isArray(record.events) || record.events.length === 0) throw new HeraldError("invalid_body", "events must be a non-empty array");
    const items = record.events.flatMap((entry, index) => readEvent(entry, `events[${index}]`));
    if (items.length > maxBatch) throw new HeraldError("invalid_body", `a batch may hold at most ${maxBatch} events; it holds ${items.length}`);
    return items;
  }
  const items = readEvent(record, "body");
  if (items.length > maxBatch) throw new HeraldError("invalid_body", `a batch may hold at most ${maxBatch} events; it holds ${items.length}`);
  return items;
}

function readEvent(entry: unknown, where: string): PublishItem[] {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new HeraldError("invalid_body", `${where} must be an object`);
  const { channel, channels, type, data } = entry as Record<string, unknown>;
  const typeProblem = eventTypeProblem(type);
  if (typeProblem) throw new HeraldError(typeProblem.code, `${where}.type: ${typeProblem.message}`);
  const tags = checkedTags((entry as Record<string, unknown>).tags, where);
  if (!("data" in (entry as object))) throw new HeraldError("invalid_body", `${where}.data is missing (use null for no data)`);
  let targets: unknown[];
  if (channels !== undefined) {
    if (channel !== undefined) throw new HeraldError("invalid_body", `${where}: give channel or channels, not both`);
    if (!Array.isArray(channels) || channels.length === 0) throw new HeraldError("invalid_body", `${where}.channels must be a non-empty array of channel names`);
    targets = channels;
  } else {
    if (channel === undefined) throw new HeraldError("invalid_body", `${where}.channel is missing`);
    targets = [channel];
  }
  return targets.map((target, index) => {
    const problem = channelProblem(target);
    const field = channels === undefined ? `${where}.channel` : `${where}.channels[${index}]`;
    if (problem) throw new HeraldError(typeof target === "string" ? "invalid_channel" : "invalid_body", `${field}: ${problem}`);
    return { channel: target as string, type: type as string, data, tags };
  });
}
