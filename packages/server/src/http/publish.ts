/**
 * `POST /api/publish`: how backends publish.
 *
 *   {"channel":"user:42","type":"balance_update","data":{…}}
 *   {"channels":["user:1","user:2"],"type":"notice","data":{…}}
 *   {"events":[{"channel":"bets","type":"bet_resolved","data":{…}}, …]}
 *
 * Answers `{"published":[{"channel","type","epoch","offset","timestamp"}, …]}` in request order.
 * Every event of a batch is validated before any is published, so a bad batch publishes nothing.
 */

import type { FastifyInstance } from "fastify";
import { channelProblem, eventTypeProblem } from "@herald/protocol";
import type { HttpContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { HmacVerifier } from "../auth/hmac-signature.js";

interface PublishItem {
  channel: string;
  type: string;
  data: unknown;
}

export function registerPublish(app: FastifyInstance, context: HttpContext): void {
  const { hmac, idempotency } = context.security;
  app.post("/api/publish", async (request, reply) => {
    // A signed request proves its key with an HMAC over the raw body; otherwise a bearer API key.
    let credential: string;
    let replayKey: string | undefined;
    if (HmacVerifier.isSigned(request.headers)) {
      if (!hmac.configured) throw new HttpError("invalid_signature", "this hub has no publish.hmacKeys; send Authorization: Bearer <API key> instead");
      const signed = hmac.verify(request.headers, request.rawBody ?? "");
      credential = `hmac:${signed.keyId}`;
      replayKey = signed.replayKey;
    } else if (hmac.configured && !context.apiKeys.configured) {
      throw new HttpError("unauthorized", "sign the request: X-Herald-Key-Id, X-Herald-Timestamp and X-Herald-Signature (see docs/security.md)");
    } else {
      const key = context.apiKeys.check(request.headers.authorization, request.socket.remoteAddress);
      if (!key.ok) throw new HttpError("unauthorized", key.message);
      credential = `key:${key.keyName}`;
    }
    const idempotencyKey = request.headers["idempotency-key"];
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== "string" || idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw new HttpError("invalid_param", "Idempotency-Key must be 1 to 255 characters");
    }
    const scopedKey = idempotencyKey === undefined ? undefined : `${credential}\n${idempotencyKey}`;
    // A retry of an answered request is not a replay: it gets the stored answer below.
    if (replayKey !== undefined && !(scopedKey !== undefined && idempotency.has(scopedKey))) hmac.claim(replayKey);
    const contentType = request.headers["content-type"] ?? "";
    if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
      throw new HttpError("unsupported_media_type", `send the body as application/json (got ${contentType ? JSON.stringify(contentType.slice(0, 60)) : "no content type"})`);
    }
    const items = readBody(request.body, context.config.publish.maxBatch);
    const publishAll = async () => {
      const published = [];
      for (const item of items) {
        const event = await context.hub.publish(item.channel, item.type, item.data);
        published.push({ channel: event.channel, type: event.type, epoch: event.epoch, offset: event.offset, timestamp: new Date(event.time).toISOString() });
      }
      return { published };
    };
    if (scopedKey === undefined) return publishAll();
    const { answer, replayed } = await idempotency.run(scopedKey, publishAll);
    if (replayed) reply.header("idempotent-replayed", "true");
    return answer;
  });
}

function readBody(body: unknown, maxBatch: number): PublishItem[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError("invalid_body", 'body must be a JSON object: {"channel","type","data"}, {"channels":[…],"type","data"} or {"events":[…]}');
  }
  const record = body as Record<string, unknown>;
  if (record.events !== undefined) {
    if (!Array.isArray(record.events) || record.events.length === 0) throw new HttpError("invalid_body", "events must be a non-empty array");
    const items = record.events.flatMap((entry, index) => readEvent(entry, `events[${index}]`));
    if (items.length > maxBatch) throw new HttpError("invalid_body", `a batch may hold at most ${maxBatch} events; it holds ${items.length}`);
    return items;
  }
  const items = readEvent(record, "body");
  if (items.length > maxBatch) throw new HttpError("invalid_body", `a batch may hold at most ${maxBatch} events; it holds ${items.length}`);
  return items;
}

function readEvent(entry: unknown, where: string): PublishItem[] {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new HttpError("invalid_body", `${where} must be an object`);
  const { channel, channels, type, data } = entry as Record<string, unknown>;
  const typeProblem = eventTypeProblem(type);
  if (typeProblem) throw new HttpError(typeProblem.code, `${where}.type: ${typeProblem.message}`);
  if (!("data" in (entry as object))) throw new HttpError("invalid_body", `${where}.data is missing (use null for no data)`);
  let targets: unknown[];
  if (channels !== undefined) {
    if (channel !== undefined) throw new HttpError("invalid_body", `${where}: give channel or channels, not both`);
    if (!Array.isArray(channels) || channels.length === 0) throw new HttpError("invalid_body", `${where}.channels must be a non-empty array of channel names`);
    targets = channels;
  } else {
    if (channel === undefined) throw new HttpError("invalid_body", `${where}.channel is missing`);
    targets = [channel];
  }
  return targets.map((target, index) => {
    const problem = channelProblem(target);
    const field = channels === undefined ? `${where}.channel` : `${where}.channels[${index}]`;
    if (problem) throw new HttpError(typeof target === "string" ? "invalid_channel" : "invalid_body", `${field}: ${problem}`);
    return { channel: target as string, type: type as string, data };
  });
}
