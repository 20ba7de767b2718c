/**
 * The memory engine: the embedded default, for one process with nothing to install.
 *
 * Streams live in a Map. Publishing is synchronous under the hood (the returned promise is
 * already settled), so events reach `onEvent` in offset order by construction. History is a
 * ring trimmed by size on every publish and by TTL lazily (on read, on publish and on a sweep).
 * A stream with no node subscription and no retained history is freed by the sweep; its next
 * publish starts a new epoch at offset 1, which is honest: its history is gone.
 */

import { randomBytes } from "node:crypto";
import { channelMatches, type EventTags, type StreamPosition } from "@herald/protocol";
import {
  viaJson,
  type Engine,
  type EngineHandler,
  type EventSender,
  type EngineStatus,
  type HistoryQuery,
  type HistoryResult,
  type IdempotencyKey,
  type IdempotencyRecord,
  type PresenceEntry,
  type DueItem,
  type PublishedEvent,
  type Receipt,
  type StreamEvent,
  type StreamOptions,
  type SurveyResult,
} from "./engine.js";
import { RecentChannels } from "./recent-channels.js";

interface Stream {
  epoch: string;
  offset: number;
  /** Retained events, oldest first; `events[head]` is the oldest still kept. */
  events: StreamEvent[];
  head: number;
}

export interface MemoryEngineOptions {
  /** How often expired history is swept and idle streams are freed, in ms. Default 30 s. */
  sweepIntervalMs?: number;
  /** Most idempotency records kept at once; the oldest are forgotten first. Default 10,000. */
  idempotencyKeys?: number;
}

const newEpoch = (): string => randomBytes(6).toString("base64url");

export class MemoryEngine implements Engine {
  readonly name = "memory";
  private handler: EngineHandler | undefined;
  private readonly streams = new Map<string, Stream>();
  /** Subscribe calls per channel; counted so a late unsubscribe cannot cancel a newer subscribe. */
  private readonly subscribed = new Map<string, number>();
  /** listenPattern() calls per pattern, counted like subscribe(). */
  private readonly patterns = new Map<string, number>();
  /** The channels published to within their history TTL, for channelsPublishedSince. */
  private readonly recent = new RecentChannels();
  private readonly presenceByChannel = new Map<string, Map<string, PresenceEntry>>();
  private readonly ttlByChannel = new Map<string, number>();
  /** Idempotency records by channel and key, in insertion order (which is expiry order for one TTL). */
  private readonly idempotency = new Map<string, IdempotencyRecord & { expiresAt: number }>();
  /** Users online (point 8): the connections of each, who each connection is, and offline deadlines. */
  private readonly userConnections = new Map<string, Set<string>>();
  private readonly connectionUsers = new Map<string, { user: string; graceMs: number }>();
  private readonly usersOnline = new Set<string>();
  private readonly offlineDeadlines = new Map<string, number>();
  /** Receipts by channel: the readers' highest acknowledged offsets, gone at `expiresAt` (point 9). */
  private readonly receiptsByChannel = new Map<string, { expiresAt: number; readers: Map<string, Receipt & { epoch: string }> }>();
  /** Due queues (point 10): queue -> id -> when due and what. */
  private readonly dueQueues = new Map<string, Map<string, { dueAt: number; payload: string }>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepIntervalMs: number;
  private readonly maxIdempotencyKeys: number;

  constructor(options: MemoryEngineOptions = {}) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
    this.maxIdempotencyKeys = options.idempotencyKeys ?? 10_000;
  }

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.handler = undefined;
  }

  async publish(channel: string, type: string, data: unknown, options: StreamOptions, idempotency?: IdempotencyKey, sender?: EventSender, trace?: string, tags?: EventTags): Promise<PublishedEvent> {
    const now = Date.now();
    // Check and append run in one synchronous step, so two publishes with one key store once.
    const recorded = idempotency === undefined ? undefined : this.recallAt(channel, idempotency.key, now);
    if (recorded) return { channel, type, data, epoch: recorded.epoch, offset: recorded.offset, time: recorded.time, replayed: true };
    const stream = this.streamFor(channel);
    stream.offset += 1;
    let event: StreamEvent = sender === undefined ? { channel, type, data, epoch: stream.epoch, offset: stream.offset, time: now } : { channel, type, data, epoch: stream.epoch, offset: stream.offset, time: now, sender };
    // Kept in history too, so a poll, a recovery or the history API name the event's trace.
    if (trace !== undefined) event = { ...event, trace };
    if (tags !== undefined) event = { ...event, tags };
    if (options.historySize > 0) {
      stream.events.push(event);
      this.ttlByChannel.set(channel, options.historyTtlMs);
      trim(stream, options, now);
      // Indexed only where history keeps events: that is all a client coming back could be given.
      this.recent.published(channel, now, options.historyTtlMs);
    }
    if (idempotency !== undefined) this.remember(channel, idempotency, event, now);
    if (this.subscribed.has(channel) || (this.patterns.size > 0 && this.matchesPattern(channel))) this.handler?.onEvent(event);
    return { ...event, replayed: false };
  }

  async recall(channel: string, key: string): Promise<IdempotencyRecord | undefined> {
    const record = this.recallAt(channel, key, Date.now());
    return record && { epoch: record.epoch, offset: record.offset, time: record.time };
  }

  private recallAt(channel: string, key: string, now: number): IdempotencyRecord | undefined {
    const record = this.idempotency.get(idempotencyId(channel, key));
    return record !== undefined && record.expiresAt > now ? record : undefined;
  }

  private remember(channel: string, idempotency: IdempotencyKey, event: StreamEvent, now: number): void {
    for (const [id, record] of this.idempotency) {
      if (record.expiresAt > now && this.idempotency.size < this.maxIdempotencyKeys) break;
      this.idempotency.delete(id);
    }
    if (this.maxIdempotencyKeys === 0) return;
    const id = idempotencyId(channel, idempotency.key);
    this.idempotency.delete(id);
    this.idempotency.set(id, { epoch: event.epoch, offset: event.offset, time: event.time, expiresAt: now + idempotency.ttlMs });
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.set(channel, (this.subscribed.get(channel) ?? 0) + 1);
  }

  async unsubscribe(channel: string): Promise<void> {
    const count = (this.subscribed.get(channel) ?? 0) - 1;
    if (count > 0) this.subscribed.set(channel, count);
    else this.subscribed.delete(channel);
  }

  async listenPattern(pattern: string): Promise<void> {
    this.patterns.set(pattern, (this.patterns.get(pattern) ?? 0) + 1);
  }

  async unlistenPattern(pattern: string): Promise<void> {
    const count = (this.patterns.get(pattern) ?? 0) - 1;
    if (count > 0) this.patterns.set(pattern, count);
    else this.patterns.delete(pattern);
  }

  async channelsPublishedSince(pattern: string, time: number): Promise<string[]> {
    return this.recent.since(pattern, time, Date.now());
  }

  private matchesPattern(channel: string): boolean {
    for (const pattern of this.patterns.keys()) if (channelMatches(pattern, channel)) return true;
    return false;
  }

  async history(channel: string, query: HistoryQuery, options: StreamOptions): Promise<HistoryResult> {
    const stream = this.streams.get(channel);
    if (!stream) {
      // Nothing was ever published here (or it was freed): a fresh position, nothing missed only
      // when the caller was also at offset 0 of an epoch it cannot know, so `complete` reflects `since`.
      const fresh = this.streamFor(channel);
      return { epoch: fresh.epoch, offset: 0, events: [], complete: query.since === undefined || query.since === 0 };
    }
    trim(stream, options, Date.now());
    const retained = stream.events.length - stream.head;
    const oldest = retained > 0 ? stream.events[stream.head]!.offset : stream.offset + 1;
    if (query.since === undefined) {
      const limit = Math.min(query.limit ?? retained, retained);
      return { epoch: stream.epoch, offset: stream.offset, events: stream.events.slice(stream.events.length - limit), complete: true };
    }
    const since = query.since;
    const complete = since >= oldest - 1;
    const from = stream.head + Math.max(0, since + 1 - oldest);
    const to = query.limit === undefined ? stream.events.length : Math.min(stream.events.length, from + query.limit);
    return { epoch: stream.epoch, offset: stream.offset, events: stream.events.slice(from, to), complete };
  }

  async position(channel: string): Promise<StreamPosition> {
    const stream = this.streamFor(channel);
    return { epoch: stream.epoch, offset: stream.offset };
  }

  async addPresence(channel: string, entry: PresenceEntry): Promise<void> {
    this.add(channel, entry);
  }

  async removePresence(channel: string, connectionId: string): Promise<void> {
    this.remove(channel, connectionId);
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    return this.entries(channel);
  }

  // One process and no await between the change and the read: atomic by construction.
  async joinPresence(channel: string, entry: PresenceEntry): Promise<PresenceEntry[]> {
    this.add(channel, entry);
    return this.entries(channel);
  }

  async leavePresence(channel: string, connectionId: string): Promise<PresenceEntry[]> {
    this.remove(channel, connectionId);
    return this.entries(channel);
  }

  private add(channel: string, entry: PresenceEntry): void {
    let entries = this.presenceByChannel.get(channel);
    if (!entries) this.presenceByChannel.set(channel, (entries = new Map()));
    entries.set(entry.connectionId, entry);
  }

  private remove(channel: string, connectionId: string): void {
    const entries = this.presenceByChannel.get(channel);
    if (!entries) return;
    entries.delete(connectionId);
    if (entries.size === 0) this.presenceByChannel.delete(channel);
  }

  private entries(channel: string): PresenceEntry[] {
    return [...(this.presenceByChannel.get(channel)?.values() ?? [])];
  }

  // One process and no await between the reads and the changes: each step is atomic by construction.
  async userConnect(user: string, connectionId: string, graceMs: number): Promise<boolean> {
    const previous = this.connectionUsers.get(connectionId);
    if (previous !== undefined) return false;
    this.connectionUsers.set(connectionId, { user, graceMs });
    let connections = this.userConnections.get(user);
    if (!connections) this.userConnections.set(user, (connections = new Set()));
    connections.add(connectionId);
    this.offlineDeadlines.delete(user);
    if (this.usersOnline.has(user)) return false;
    this.usersOnline.add(user);
    return true;
  }

  async userDisconnect(connectionId: string): Promise<void> {
    const counted = this.connectionUsers.get(connectionId);
    if (counted === undefined) return;
    this.connectionUsers.delete(connectionId);
    const connections = this.userConnections.get(counted.user);
    connections?.delete(connectionId);
    if (connections && connections.size > 0) return;
    this.userConnections.delete(counted.user);
    this.offlineDeadlines.set(counted.user, Date.now() + counted.graceMs);
  }

  async claimOffline(): Promise<string[]> {
    const now = Date.now();
    const claimed: string[] = [];
    for (const [user, deadline] of this.offlineDeadlines) {
      if (deadline > now) continue;
      this.offlineDeadlines.delete(user);
      if (this.userConnections.has(user) || !this.usersOnline.delete(user)) continue;
      claimed.push(user);
    }
    return claimed;
  }

  async acknowledge(channel: string, reader: string, epoch: string, offset: number, options: StreamOptions): Promise<void> {
    const now = Date.now();
    let kept = this.receiptsByChannel.get(channel);
    if (!kept || kept.expiresAt <= now) this.receiptsByChannel.set(channel, (kept = { expiresAt: 0, readers: new Map() }));
    kept.expiresAt = now + options.historyTtlMs;
    const previous = kept.readers.get(reader);
    if (previous && previous.epoch === epoch && previous.offset >= offset) return;
    kept.readers.set(reader, { reader, epoch, offset, time: now });
  }

  async receipts(channel: string, epoch: string, reader?: string): Promise<Receipt[]> {
    const kept = this.receiptsByChannel.get(channel);
    if (!kept || kept.expiresAt <= Date.now()) return [];
    const readers = reader === undefined ? [...kept.readers.values()] : [kept.readers.get(reader)].filter((receipt) => receipt !== undefined);
    return readers.filter((receipt) => receipt.epoch === epoch).map(({ reader: name, offset, time }) => ({ reader: name, offset, time }));
  }

  async schedule(queue: string, id: string, dueAt: number, payload: string): Promise<void> {
    let items = this.dueQueues.get(queue);
    if (!items) this.dueQueues.set(queue, (items = new Map()));
    if (!items.has(id)) items.set(id, { dueAt, payload });
  }

  async claimDue(queue: string, limit: number, leaseMs: number): Promise<DueItem[]> {
    const now = Date.now();
    const claimed: DueItem[] = [];
    for (const [id, item] of this.dueQueues.get(queue) ?? []) {
      if (claimed.length >= limit) break;
      if (item.dueAt > now) continue;
      item.dueAt = now + leaseMs;
      claimed.push({ id, payload: item.payload });
    }
    return claimed;
  }

  async completeDue(queue: string, id: string): Promise<void> {
    const items = this.dueQueues.get(queue);
    items?.delete(id);
    if (items?.size === 0) this.dueQueues.delete(queue);
  }

  /** One process is the whole cluster: this node answers alone. */
  async survey(request: unknown): Promise<SurveyResult> {
    if (!this.handler?.onControl) return { answers: [], missing: 0 };
    // Through JSON, as an answer from another node would come: the caller sees the same either way.
    return { answers: [viaJson(await this.handler.onControl(request))], missing: 0 };
  }

  status(): EngineStatus {
    return { name: this.name, available: true, details: { streams: this.streams.size } };
  }

  private streamFor(channel: string): Stream {
    let stream = this.streams.get(channel);
    if (!stream) {
      stream = { epoch: newEpoch(), offset: 0, events: [], head: 0 };
      this.streams.set(channel, stream);
    }
    return stream;
  }

  /** Drops expired history everywhere and frees streams nobody holds and nothing remembers. */
  private sweep(): void {
    const now = Date.now();
    for (const [channel, kept] of this.receiptsByChannel) if (kept.expiresAt <= now) this.receiptsByChannel.delete(channel);
    for (const [channel, stream] of this.streams) {
      const ttl = this.ttlByChannel.get(channel);
      if (ttl !== undefined) expire(stream, ttl, now);
      if (stream.events.length === stream.head && !this.subscribed.has(channel) && !this.presenceByChannel.has(channel)) {
        this.streams.delete(channel);
        this.ttlByChannel.delete(channel);
      }
    }
  }
}

function idempotencyId(channel: string, key: string): string {
  return `${channel}\n${key}`;
}

function trim(stream: Stream, options: StreamOptions, now: number): void {
  const retained = stream.events.length - stream.head;
  if (retained > options.historySize) stream.head += retained - options.historySize;
  expire(stream, options.historyTtlMs, now);
}

function expire(stream: Stream, ttlMs: number, now: number): void {
  const cutoff = now - ttlMs;
  while (stream.head < stream.events.length && stream.events[stream.head]!.time <= cutoff) stream.head += 1;
  // Compact once the dead prefix dominates, so trimming stays amortised O(1) per event.
  if (stream.head > 64 && stream.head * 2 > stream.events.length) {
    stream.events = stream.events.slice(stream.head);
    stream.head = 0;
  }
}
