/**
 * Polling and long-polling at `GET /api/updates?channel=…&since=<cursor>&timeout=<duration>`.
 * Answers `{updates, cursor, count, recovered, cache?, receipts?}`: the events after the cursor, in offset order per
 * channel, and the cursor to send next time. Without `since` it answers the retained history, and
 * `cache` names, for each channel of a `cache: true` namespace, whether its latest event is in it.
 * `receipts` lists the channels whose namespace keeps receipts, for a poll that has a user: its
 * client acknowledges what it handled there with POST /api/ack (transports/ack.ts).
 * With `timeout`, an empty answer waits until an event arrives or the time is up.
 *
 * No gap: the request starts watching its channels before it reads history, so an event
 * published between the read and the wait wakes it instead of being skipped.
 *
 * In `/api/status`, a poll is one of `transports.polling.connections` while it is in flight (a
 * long-poll for as long as it waits), and the body of each answer counts in its `bytesSent`.
 *
 * Honest `recovered`: a cursor the stream no longer covers is answered at once with
 * `recovered: false` (that is news, no need to wait). After a wait, the answer comes from a read
 * made then, from the position the first read confirmed, so `recovered` is judged against the
 * stream as it is when the request answers (a new epoch or lost history during the wait shows).
 */

import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { channelMatches, encodeCursor, isChannelPattern, type CacheResult, type Cursor, type EventFrame, type TagFilter } from "@herald/protocol";
import { parseDuration } from "../config/duration.js";
import type { HttpContext } from "./http-context.js";
import { PassiveSession } from "../hub/passive-session.js";
import type { Session } from "../hub/session.js";
import { PreparedEvent } from "../hub/prepared-event.js";
import { channelsFromQuery, cursorFromText, firstString, patternEntry } from "./query.js";
import { filtersFromQuery } from "./query-filters.js";
import { compiledFilter } from "../hub/tags.js";
import { HeraldError } from "../shared/herald-error.js";


export function registerPolling(app: FastifyInstance, context: HttpContext): void {
  const { hub, config } = context;

  app.get("/api/updates", async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const named = channelsFromQuery(query.channel, config.maxSubscriptionsPerConnection, true);
    const patterns = named.filter(isChannelPattern);
    // Compiled once per request; a filtered-out event moves the channel's cursor on all the same.
    // A pattern's filter applies to each channel it matches (filtersFor).
    const filters = new Map([...filtersFromQuery(query, named)].map(([name, text]) => [name, compiledFilter(text)]));
    const filtersFor = (channels: readonly string[]): ReadonlyMap<string, TagFilter> => {
      for (const channel of channels) {
        if (filters.has(channel)) continue;
        const pattern = patterns.find((candidate) => filters.has(candidate) && channelMatches(candidate, channel));
        if (pattern !== undefined) filters.set(channel, filters.get(pattern)!);
      }
      return filters;
    };
    const cursor = cursorFromText(firstString(query.since), "since");
    const timeoutText = firstString(query.timeout);
    const timeout = timeoutText === undefined ? 0 : parseDuration(/^\d+$/.test(timeoutText) ? Number(timeoutText) : timeoutText);
    if (timeout === undefined) throw new HeraldError("invalid_param", "timeout must be a duration such as 25s or a number of milliseconds");
    const limitText = firstString(query.limit);
    const limit = limitText === undefined ? config.polling.maxEvents : Number(limitText);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new HeraldError("invalid_param", "limit must be a whole number >= 1");

    // A long poll holds its connection like a stream does, so it takes a slot of the limits.
    const arrival = context.admission.arrival(request.raw, query);
    const slot = context.admission.enter(arrival, true);
    // Listened for first: a client that leaves during authorisation must not leave a wait behind.
    const aborted = new AbortController();
    request.raw.on("close", () => aborted.abort());
    const session = new PassiveSession(randomUUID(), "polling", arrival.address, "herald");
    // Ended by the server (a server API disconnect): stop waiting and answer its error.
    session.ended.addEventListener("abort", () => aborted.abort(), { once: true });
    let watch: ReturnType<typeof hub.watch> | undefined;
    let body: string;
    try {
      const token = await context.admission.authenticate(session, arrival);
      // Taken before the poll watches: a channel that starts matching from then on is either found
      // by this poll or, by the next one, through the time the answer's cursor holds.
      const startedAt = Date.now();
      const channels = named.filter((channel) => !isChannelPattern(channel));
      for (const channel of channels) await hub.authorizeRead(session, channel, token);
      // A pattern reads the channels of the cursor it matches, and the channels that started
      // matching since the cursor's time for it (between two polls, say), each only where the poll
      // may read it.
      const since: Cursor = { ...cursor };
      const matched = Object.keys(since).filter((channel) => !isChannelPattern(channel) && !channels.includes(channel) && patterns.some((pattern) => channelMatches(pattern, channel)));
      for (const pattern of patterns) {
        const entry = cursor?.[pattern];
        if (entry?.epoch !== "") continue;
        const started = await hub.channelsStartedSince(pattern, entry.offset, config.maxPatternChannels);
        for (const [channel, position] of Object.entries(started)) {
          if (channel in since || channels.includes(channel)) continue;
          since[channel] = position;
          matched.push(channel);
        }
      }
      channels.push(...(await readable(session, matched, token)));
      if (request.raw.destroyed) aborted.abort();
      hub.addSession(session);
      watch = hub.watch(channels, patterns);
      await watch.ready;
      let answer = await read(channels, since, Math.min(limit, config.polling.maxEvents), filtersFor(channels));
      // Waits again after events its filters all dropped, until the time is up.
      const deadline = Date.now() + Math.min(timeout, config.polling.maxTimeout);
      while (answer.count === 0 && answer.recovered && timeout > 0 && context.accepting() && !aborted.signal.aborted && Date.now() < deadline) {
        await watch.next(deadline - Date.now(), aborted.signal);
        endedByServer(session);
        // Channels that started matching a pattern during the wait: their retained history is read.
        const found = await readable(session, [...watch.discovered].slice(0, config.maxPatternChannels), token);
        channels.push(...found);
        answer = await read(channels, answer.next, Math.min(limit, config.polling.maxEvents), filtersFor(channels));
      }
      endedByServer(session);
      // Serialised here, once, so the bytes counted are the bytes sent.
      const next: Cursor = { ...answer.next };
      for (const pattern of patterns) next[pattern] = patternEntry(startedAt);
      const fields: Record<string, unknown> = { updates: answer.updates, cursor: encodeCursor(next), count: answer.count, recovered: answer.recovered };
      if (answer.cache) fields.cache = answer.cache;
      // A poll's acknowledgement counts only as a user's (POST /api/ack), so only a poll with a
      // user is told where to acknowledge; on every answer, as a gap's new `subscribed` needs it too.
      const receipts = session.user === undefined ? [] : channels.filter((channel) => hub.receipts.kept(channel));
      if (receipts.length > 0) fields.receipts = receipts;
      body = JSON.stringify(fields);
      context.stats.deliveredBy.polling += answer.count;
      context.stats.bytesSent.polling += Buffer.byteLength(body);
    } finally {
      slot.release();
      if (watch) {
        watch.release();
        await hub.removeSession(session);
      }
    }
    // Sent once the poll has left the counts, so a client that has its answer no longer sees itself in flight.
    return reply.type("application/json; charset=utf-8").send(body);
  });

  /** The channels the poll may read, refused ones left out: a pattern never reveals a channel. */
  async function readable(session: Session, channels: string[], token: string | undefined): Promise<string[]> {
    const allowed = await Promise.all(
      channels.map((channel) =>
        hub.authorizeRead(session, channel, token).then(
          () => true,
          () => false,
        ),
      ),
    );
    return channels.filter((_, index) => allowed[index]);
  }

  /** A poll the server ended answers the error it was given (e.g. `disconnected`) instead of events. */
  function endedByServer(session: PassiveSession): void {
    if (session.ended.aborted && session.lastError) throw new HeraldError(session.lastError.code, session.lastError.message);
  }

  async function read(channels: string[], cursor: Cursor | undefined, limit: number, filters: ReadonlyMap<string, TagFilter>) {
    const updates: EventFrame[] = [];
    const next: Cursor = {};
    let recovered = true;
    let cache: Record<string, CacheResult> | undefined;
    for (const channel of channels) {
      const since = cursor?.[channel];
      const history = await hub.history(channel, since ? { since: since.offset, limit } : { limit });
      if (since && since.epoch === history.epoch && since.offset > history.offset) {
        throw new HeraldError("invalid_since", `since is at offset ${since.offset} of ${channel}, which has only reached ${history.offset}`);
      }
      const continuous = since === undefined || (since.epoch === history.epoch && history.complete && since.offset <= history.offset);
      if (!continuous) recovered = false;
      const events = since && !continuous ? [] : history.events;
      const filter = filters.get(channel);
      for (const event of events) if (filter === undefined || filter(event.tags)) updates.push(new PreparedEvent(event).frame());
      // The cursor passes events the filter dropped too: they were seen.
      const last = events[events.length - 1];
      // Without a position the answer holds the retained history: in a cache namespace, say
      // whether its newest event is the channel's latest, for a client that starts from it.
      const latestSent = last !== undefined && last.offset === history.offset && (filter === undefined || filter(last.tags));
      if (since === undefined && hub.channelOptions(channel).cache) (cache ??= {})[channel] = latestSent ? "hit" : "miss";
      next[channel] = last ? { epoch: last.epoch, offset: last.offset } : { epoch: history.epoch, offset: since && continuous ? since.offset : history.offset };
    }
    return { updates, next, count: updates.length, recovered, cache };
  }
}
