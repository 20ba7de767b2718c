/** Reading channel lists and cursors from the query strings of the HTTP transports. */

import { channelMatches, channelProblem, decodeCursor, isChannelPattern, patternProblem, type Cursor, type StreamPosition } from "@herald/protocol";
import { HeraldError } from "../shared/herald-error.js";

/** `?channel=a&channel=b` → ["a", "b"], validated, duplicates removed; with `patterns`, `orders:*` is one too. */
export function channelsFromQuery(value: unknown, max: number, patterns = false): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new HeraldError("invalid_param", "give at least one channel: ?channel=<name> (repeat it for more)");
  const channels = [...new Set(list.map(String))];
  if (channels.length > max) throw new HeraldError("too_many_subscriptions", `at most ${max} channels per request`);
  for (const channel of channels) {
    if (patterns && isChannelPattern(channel)) {
      const problem = patternProblem(channel);
      if (problem) throw new HeraldError(problem.code, `${JSON.stringify(channel.slice(0, 80))}: ${problem.message}`);
      continue;
    }
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", `${JSON.stringify(channel.slice(0, 80))}: ${problem}`);
  }
  return channels;
}

/** The positions of a cursor's channels that a pattern matches: what a pattern subscribe recovers from. */
export function positionsMatching(cursor: Cursor | undefined, pattern: string): Record<string, StreamPosition> | undefined {
  if (!cursor) return undefined;
  const positions = Object.entries(cursor).filter(([channel]) => !isChannelPattern(channel) && channelMatches(pattern, channel));
  return positions.length > 0 ? Object.fromEntries(positions) : undefined;
}

/**
 * A cursor also holds, under each pattern's own name, the time (ms) from which the channels that
 * start matching it are looked for when it comes back: the `after` of a WebSocket subscribe
 * (docs/protocol.md, "Pattern subscriptions"), as the SSE and polling cursors carry it. It is
 * written as a position of epoch "" whose offset is that time, so the cursor keeps one shape.
 */
/** The latest time a Date holds (ECMAScript's time range), in ms. */
const MAX_TIME_MS = 8.64e15;

export function patternEntry(time: number): StreamPosition {
  return { epoch: "", offset: Math.max(0, Math.floor(time)) };
}

/** The time a cursor holds for `pattern`, as `after` takes it (ISO-8601); undefined when it holds none. */
export function patternAfter(cursor: Cursor | undefined, pattern: string): string | undefined {
  const entry = cursor?.[pattern];
  return entry !== undefined && entry.epoch === "" ? new Date(entry.offset).toISOString() : undefined;
}

export function cursorFromText(text: string | undefined, what: string): Cursor | undefined {
  if (text === undefined || text === "") return undefined;
  const cursor = decodeCursor(text);
  // A pattern's entry holds a time (patternEntry): one no Date can hold is no cursor this server issued either.
  const badTime = cursor && Object.entries(cursor).some(([name, entry]) => isChannelPattern(name) && (entry.epoch !== "" || entry.offset > MAX_TIME_MS));
  if (!cursor || badTime) throw new HeraldError("invalid_cursor", `${what} is not a cursor this server issued; drop it to start from the current position`);
  return cursor;
}

export function firstString(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
  return value === undefined ? undefined : String(value);
}
