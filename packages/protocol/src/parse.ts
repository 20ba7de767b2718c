/**
 * Validation of frames sent by clients. Hand-written rather than schema-driven because it runs
 * once per received frame on the server's hot path; each failure names the field at fault.
 */

import type { ErrorCode } from "./codes.js";
import { channelProblem, eventTypeProblem } from "./channel.js";
import { channelMatches, isChannelPattern, patternProblem } from "./channel-pattern.js";
import type { ClientFrame, StreamPosition, SubscribeFrame } from "./frames.js";
import { tagsProblem, type EventTags } from "./tag-filter.js";

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; id?: string | number };

type Json = Record<string, unknown>;

const fail = (code: ErrorCode, message: string, id?: string | number): ParseResult =>
  id === undefined ? { ok: false, code, message } : { ok: false, code, message, id };

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function requestId(frame: Json): string | number | undefined | null {
  const id = frame.id;
  if (id === undefined) return undefined;
  if ((typeof id === "string" && id.length <= 64) || (typeof id === "number" && Number.isFinite(id))) return id;
  return null;
}

/** Checks a `since` value; returns the position or a message. */
export function parseSince(since: unknown): StreamPosition | string {
  if (!isObject(since)) return "since must be an object {epoch, offset}";
  const { epoch, offset } = since;
  if (typeof epoch !== "string" || epoch.length === 0 || epoch.length > 64) return "since.epoch must be a non-empty string";
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    return "since.offset must be a whole number >= 0";
  }
  return { epoch, offset };
}

/** Parses and validates one text frame from a client. */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail("invalid_json", "frame is not valid JSON; send one JSON object per frame");
  }
  return validateClientFrame(value);
}

/** Validates an already-decoded client frame. */
export function validateClientFrame(value: unknown): ParseResult {
  if (!isObject(value)) return fail("invalid_frame", "frame must be a JSON object with a string `type`");
  const id = requestId(value);
  if (id === null) return fail("invalid_frame", "id must be a string of at most 64 characters or a number");
  const type = value.type;
  if (typeof type !== "string") return fail("invalid_frame", "frame must have a string `type`", id);

  switch (type) {
    case "ping":
      return { ok: true, frame: { type: "ping" } };
    case "pong":
      return { ok: true, frame: { type: "pong" } };
    case "auth": {
      if (typeof value.token !== "string" || value.token.length === 0) return fail("invalid_frame", "auth.token must be a non-empty string", id);
      return { ok: true, frame: { type: "auth", token: value.token } };
    }
    case "subscribe": {
      if (typeof value.channel === "string" && isChannelPattern(value.channel)) return parsePatternSubscribe(value, value.channel, id);
      const problem = channelProblem(value.channel);
      if (problem) return fail(typeof value.channel === "string" ? "invalid_channel" : "invalid_frame", problem, id);
      if (value.positions !== undefined) return fail("invalid_frame", "subscribe.positions is only for a pattern channel (one with *); use since", id);
      if (value.after !== undefined) return fail("invalid_frame", "subscribe.after is only for a pattern channel (one with *); use since", id);
      const frame: SubscribeFrame = { type: "subscribe", channel: value.channel as string };
      if (id !== undefined) frame.id = id;
      if (value.since !== undefined && value.since !== null) {
        const since = parseSince(value.since);
        if (typeof since === "string") return fail("invalid_since", since, id);
        frame.since = since;
      }
      return withSubscribeOptions(value, frame, id);
    }
    case "unsubscribe": {
      const problem = typeof value.channel === "string" && isChannelPattern(value.channel) ? patternProblem(value.channel)?.message : channelProblem(value.channel);
      if (problem) return fail(typeof value.channel === "string" ? "invalid_channel" : "invalid_frame", problem, id);
      const frame: ClientFrame = { type: "unsubscribe", channel: value.channel as string };
      if (id !== undefined) frame.id = id;
      return { ok: true, frame };
    }
    case "publish": {
      const problem = channelProblem(value.channel);
      if (problem) return fail(typeof value.channel === "string" ? "invalid_channel" : "invalid_frame", problem, id);
      const eventProblem = eventTypeProblem(value.event);
      if (eventProblem) return fail(eventProblem.code, `publish.event: ${eventProblem.message}`, id);
      if (!("data" in value)) return fail("invalid_frame", "publish.data is missing (use null for no data)", id);
      const frame: ClientFrame = { type: "publish", channel: value.channel as string, event: value.event as string, data: value.data };
      if (id !== undefined) frame.id = id;
      if (value.tags !== undefined && value.tags !== null) {
        const problem = tagsProblem(value.tags);
        if (problem) return fail("invalid_tags", `publish.${problem}`, id);
        frame.tags = value.tags as EventTags;
      }
      return { ok: true, frame };
    }
    case "ack": {
      const problem = channelProblem(value.channel);
      if (problem) return fail(typeof value.channel === "string" ? "invalid_channel" : "invalid_frame", problem, id);
      const offset = value.offset;
      if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 1) return fail("invalid_frame", "ack.offset must be a whole number >= 1", id);
      return { ok: true, frame: { type: "ack", channel: value.channel as string, offset } };
    }
    default:
      return fail("unknown_type", `unknown frame type "${type.slice(0, 64)}"; expected subscribe, unsubscribe, publish, auth, ack, ping or pong`, id);
  }
}

/** The most channels one `positions` may list; the hub's own limit (maxPatternChannels) may be lower. */
export const MAX_POSITIONS = 10_000;

/** A subscribe whose channel is a pattern: `positions` (per channel) instead of `since`. */
function parsePatternSubscribe(value: Json, pattern: string, id: string | number | undefined): ParseResult {
  const problem = patternProblem(pattern);
  if (problem) return fail(problem.code, problem.message, id);
  if (value.since !== undefined && value.since !== null) {
    return fail("invalid_since", "a pattern subscribe takes positions {\"<channel>\": {epoch, offset}, ...} instead of since", id);
  }
  const frame: SubscribeFrame = { type: "subscribe", channel: pattern };
  if (id !== undefined) frame.id = id;
  if (value.positions !== undefined && value.positions !== null) {
    const positions = parsePositions(value.positions);
    if (typeof positions === "string") return fail("invalid_since", positions, id);
    const outside = Object.keys(positions).find((channel) => !channelMatches(pattern, channel));
    if (outside !== undefined) return fail("invalid_since", `positions names ${outside}, which ${pattern} does not match`, id);
    frame.positions = positions;
  }
  if (value.after !== undefined && value.after !== null) {
    if (!isIsoTime(value.after)) return fail("invalid_since", `after must be an ISO-8601 time such as "2026-12-04T17:40:00.120Z" (the \`time\` of the pattern's last subscribed)`, id);
    frame.after = value.after;
  }
  return withSubscribeOptions(value, frame, id);
}

// What Date.prototype.toISOString writes, with any precision and offset: a time that names one instant.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Whether `value` is an ISO-8601 date and time that Date can read. */
function isIsoTime(value: unknown): value is string {
  return typeof value === "string" && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

/** A subscribe's `token`, `delta` and `filter`, the same for a channel and a pattern. */
function withSubscribeOptions(value: Json, frame: SubscribeFrame, id: string | number | undefined): ParseResult {
  if (value.token !== undefined) {
    if (typeof value.token !== "string") return fail("invalid_frame", "subscribe.token must be a string", id);
    frame.token = value.token;
  }
  if (value.delta !== undefined) {
    const problem = deltaProblem(value.delta);
    if (problem) return fail("unsupported_delta", `subscribe.delta: ${problem}`, id);
    frame.delta = "fossil";
  }
  // Compiled where the subscription is made (once), which answers a bad one with invalid_filter.
  if (value.filter !== undefined && value.filter !== null) {
    if (typeof value.filter !== "string") return fail("invalid_filter", "subscribe.filter must be a string such as \"symbol=BTC\"", id);
    frame.filter = value.filter;
  }
  return { ok: true, frame };
}

/** Checks a pattern subscribe's `positions`: an object of channel names to `{epoch, offset}`. */
export function parsePositions(positions: unknown): Record<string, StreamPosition> | string {
  if (!isObject(positions)) return "positions must be an object {\"<channel>\": {epoch, offset}, ...}";
  const entries = Object.entries(positions);
  if (entries.length > MAX_POSITIONS) return `positions lists ${entries.length} channels; the limit is ${MAX_POSITIONS}`;
  const parsed: Record<string, StreamPosition> = {};
  for (const [channel, since] of entries) {
    const problem = channelProblem(channel);
    if (problem) return `positions: ${problem}`;
    const position = parseSince(since);
    if (typeof position === "string") return `positions["${channel}"]: ${position.replace(/^since/, "position")}`;
    parsed[channel] = position;
  }
  return parsed;
}

/** Why `value` is not a delta format a subscriber may ask for (`unsupported_delta`), or undefined when it is. */
export function deltaProblem(value: unknown): string | undefined {
  return value === "fossil" ? undefined : `${JSON.stringify(value)?.slice(0, 64)} is not a delta format; use "fossil" or leave it out`;
}
