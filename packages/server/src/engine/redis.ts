/**
 * The Redis engine: many Herald nodes on Redis act as one hub. Redis is one server, several
 * independent shards (each channel on one, by consistent hashing) or a Redis Cluster; see
 * redis-topology.ts. Everything below holds per channel, on the server that holds the channel.
 *
 * Streams: each channel's position (epoch, offset) lives in a hash and its history in a Redis
 * Stream; a Lua script assigns the offset, stores the event and publishes it in one atomic step
 * (see redis-scripts.ts), so every node sees one order per channel.
 *
 * Fan-out: a subscriber connection per Redis server (redis-subscribers.ts) listens on one pub/sub
 * channel per Herald channel held by this node (sharded SSUBSCRIBE/SPUBLISH when every server has
 * them, Redis 7+, else SUBSCRIBE/PUBLISH).
 *
 * Delivery invariant (the engine contract's point 3): for every channel held, the engine knows the
 * last offset it passed to `onEvent`. A message with the next offset is delivered; an older one is
 * dropped; a newer one means messages were missed (pub/sub is fire-and-forget, e.g. while the
 * subscriber connection was down), so the engine parks live messages, reads the missing events
 * from the stream, delivers them, then the parked ones. After a subscriber connection comes back
 * it listens again to every channel of that server and runs the same catch-up for each, so events
 * published while this node was cut off reach its clients in order. A catch-up counts only when
 * the channel was listened to, without a break, from before its read until after it. When the
 * missing events have already left history, nothing can bring them back: the engine tells the hub
 * through `onGap` (the hub makes those clients recover with `since`, where they learn
 * `recovered: false`) instead of skipping them silently.
 *
 * Patterns (engine.patterns): PSUBSCRIBE on the patterns' topics, and an index of the channels
 * published lately per namespace (`<prefix>{<namespace>}:recent`, kept by the publish script) for
 * channelsPublishedSince. A pattern glob misses what is published while the subscriber connection
 * to its server is down, and a channel this node does not hold has no catch-up: once the
 * connection is back, the channels of that server that the index lists since the loss are replayed
 * from history, their live matched messages parked until then (replayPatternGap).
 *
 * Honesty: commands are never queued while Redis is away and never re-sent after a lost
 * connection (a re-sent publish could store an event twice); they fail at once. A publish that
 * never left this node (the channel's server not connected) rejects with engine_unavailable:
 * nothing was stored. One that was sent and then lost its connection or its answer (timeout) may
 * have been stored, so it rejects with engine_timeout: the outcome is unknown, and a retry with
 * the same idempotency key settles it.
 *
 * Idempotency: the publish script checks and writes the key's record (`{channel}:idem:<hash>`,
 * expiring after the key's TTL) in the same atomic step as the append, so a retry on any node
 * stores nothing and gets the first event's position.
 *
 * Presence: a hash of entries and a sorted set of their expiry times per channel; each node
 * refreshes the entries of its own connections, so a crashed node's connections disappear once
 * their expiry passes.
 *
 * Users online (the contract's point 8): the counted connections, their users and the offline
 * deadlines live under `<prefix>{#users}` (one slot, so one script sees them all). Each node
 * refreshes its own connections with its presence entries; a crashed node's connections are taken
 * back by whichever node's claimOffline finds them expired, and its users' deadlines are claimed,
 * each by one node, by the same script.
 *
 * Availability: with several servers, one that is away makes only its own channels unavailable
 * (their publishes are refused, their subscribers catch up once it is back); the engine reports
 * itself unavailable when it reaches none, since every node would be in the same state and taking
 * them all out of service would serve nobody.
 *
 * Control (the contract's point 7): every node listens on `<prefix>{#control}` and on a reply topic
 * of its own, `<prefix>{#control}:<instance>`, on the server that holds the pseudo-channel
 * `#control` (a name no channel can have), with the channel topics' kind of pub/sub (ioredis takes
 * a connection out of subscriber mode when the last topic of one kind goes, and would then drop
 * the other kind's messages). A survey publishes the request there; Redis answers how many
 * subscribers got it, which is how many nodes are running (a stopped node's connection is gone),
 * this one included when it listens. Each other node handles the request and publishes its answer
 * to the asker's reply topic; the asker's own copy only counts it as heard, since it has already
 * acted on the request directly (so it acts even when it cannot hear the topic). The survey waits
 * for that many answers, at most the command timeout. Nothing is stored. On a Redis Cluster
 * without sharded pub/sub the count covers one cluster node only, so the survey waits the whole
 * timeout and cannot tell who did not answer.
 */

import { createHash, randomBytes } from "node:crypto";
import { channelMatches, namespaceOf, patternPrefix, type EventTags, type StreamPosition } from "@herald/protocol";
import {
  ENGINE_TIMEOUT,
  ENGINE_UNAVAILABLE,
  type Engine,
  type EngineHandler,
  type EngineStatus,
  type EventSender,
  type HistoryQuery,
  type HistoryResult,
  type IdempotencyKey,
  type IdempotencyRecord,
  type DueItem,
  type PresenceEntry,
  type Receipt,
  type PublishedEvent,
  type StreamEvent,
  type StreamOptions,
  type SurveyResult,
  viaJson,
} from "./engine.js";
import { RedisClusterTopology } from "./redis-cluster.js";
import { scripts } from "./redis-scripts.js";
import { RedisServers } from "./redis-servers.js";
import { SubscriberConnections } from "./redis-subscribers.js";
import { connectionOptions, unreachable, type RedisCommands, type RedisTopology } from "./redis-topology.js";
import { HeraldError, isHeraldError } from "../shared/herald-error.js";

export interface RedisEngineOptions {
  /** Redis URL, e.g. redis://127.0.0.1:6379/0. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Several independent Redis servers instead of `url`; each channel lives on one (redis-shard-index.ts). */
  shards?: readonly string[];
  /** Seed URLs of a Redis Cluster instead of `url` (any of its nodes; the others are discovered). */
  cluster?: readonly string[];
  /** Prefix of every key and pub/sub channel; lets several Heralds share one Redis. Default `herald:`. */
  prefix?: string;
  /**
   * How long a channel's position (epoch, offset) outlives its last publish or its last read (a
   * subscribe, poll or history read, which create it when missing), in ms, when that is longer
   * than its history TTL. Once it is gone the channel starts a new epoch. Default 24 h.
   */
  positionTtlMs?: number;
  /** How long a presence entry lives without a refresh from its node, in ms. Default 60 s. */
  presenceTtlMs?: number;
  /** A command that gets no answer within this many ms fails as unavailable. Default 5 s. */
  commandTimeoutMs?: number;
  /** Names this node's connections in Redis' CLIENT LIST (`<name>-command`, `<name>-subscriber`). Default `herald`. */
  connectionName?: string;
  /** Force plain PUBLISH/SUBSCRIBE even where sharded pub/sub exists. Default false. */
  disableShardedPubSub?: boolean;
  /**
   * Deliver pattern subscriptions (listenPattern): implies plain PUBLISH/SUBSCRIBE, since PSUBSCRIBE
   * does not see SPUBLISH; not on a Redis Cluster, where a plain PUBLISH goes to every node. Default false.
   */
  patterns?: boolean;
}

/** What the engine knows about one channel this node holds. */
interface Held {
  readonly channel: string;
  readonly topic: string;
  /** subscribe() calls not yet matched by unsubscribe(). */
  refs: number;
  /** Epoch and offset of the last event passed to onEvent; epoch undefined until the position is read. */
  epoch: string | undefined;
  last: number;
  /** Live messages waiting while the position is read or missing events are fetched. */
  parked: StreamEvent[];
  /** True while a catch-up read runs (or must run once Redis is back): live messages are parked. */
  catchingUp: boolean;
  /** Settles when the first subscribe() has the topic confirmed and the position read. */
  ready: Promise<void>;
  /** True until the first subscribe() settles: it listens and catches up by itself. */
  starting: boolean;
  /** The server whose subscriber connection listens to the topic; undefined while nothing does. */
  server: string | undefined;
  /** Changes whenever the topic is listened to anew or stops being listened to. */
  subscription: number;
  /** The catch-ups of this channel, one after another. */
  catchUps: Promise<void>;
}

/**
 * What pattern globs may have missed on one server while this node's subscriber connection to it
 * was down (see replayPatternGap).
 */
interface PatternGap {
  /** From when (ms, this node's clock, less GAP_MARGIN_MS): the connection was lost then. */
  readonly since: number;
  /** Matched messages of the server's channels that arrived after it came back, parked per channel until the replay. */
  readonly parked: Map<string, StreamEvent[]>;
  /** Times the connection was lost again since; a replay that saw one change covers too little and starts over. */
  losses: number;
}

/** A survey this node sent, waiting for the other nodes' answers. */
interface PendingSurvey {
  readonly answers: unknown[];
  /** Copies of the request heard back: answers, failures and this node's own copy. */
  heard: number;
  failed: number;
  /** How many nodes got the request (PUBLISH's answer); undefined until it is known, or when it cannot be known. */
  expected: number | undefined;
  /** Ends the wait. */
  finish(): void;
}

const newEpoch = (): string => randomBytes(6).toString("base64url");
/** Where the control topics live, as if it were a channel: `#` is in no channel name, so none can share its topics. */
const CONTROL = "#control";
/** The hash tag of the users-online keys. */
const USERS = "#users";
/** The hash tag of a due queue's keys. */
const dueTag = (queue: string): string => `#due:${queue}`;
/**
 * How far before a lost subscriber connection a pattern gap replay reaches back: the loss is seen
 * after it happened, and the events' times are Redis' clock, this node's may differ a little.
 */
const GAP_MARGIN_MS = 5_000;
/** Most connections reaped and users claimed by one claimOffline call; the next call takes the rest. */
const CLAIM_LIMIT = 500;
/** The shape of an instance name in a control message, so a reply topic is never made from anything else. */
const INSTANCE = /^[A-Za-z0-9_-]{1,32}$/;

export class RedisEngine implements Engine {
  readonly name = "redis";
  private readonly topology: RedisTopology;
  private readonly prefix: string;
  private readonly positionTtlMs: number;
  private readonly presenceTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly allowSharded: boolean;
  private readonly connectionName: string;
  private subscribers: SubscriberConnections | undefined;
  private handler: EngineHandler | undefined;
  private sharded = false;
  private available = false;
  private started = false;
  private closed = false;
  private readonly held = new Map<string, Held>();
  private readonly byTopic = new Map<string, Held>();
  /** This node's presence entries, refreshed periodically: channel -> connectionId -> entry. */
  private readonly ownPresence = new Map<string, Map<string, PresenceEntry>>();
  /** This node's connections counted as users' (userConnect), refreshed with presence: connectionId -> user and grace. */
  private readonly ownUsers = new Map<string, { user: string; graceMs: number }>();
  private presenceTimer: NodeJS.Timeout | undefined;
  private recovery: Promise<void> = Promise.resolve();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private eventsMissedRecovered = 0;
  private gaps = 0;
  /** Names this engine in control messages, so the answers to its surveys come back to it alone. */
  private readonly instance = randomBytes(9).toString("base64url");
  private readonly surveys = new Map<string, PendingSurvey>();
  /** Where surveys are sent; every node listens. */
  private readonly controlTopic: string;
  /** Where the answers to this node's surveys come. */
  private readonly ownReplyTopic: string;
  /** The server whose subscriber connection listens to the control topics; undefined while none does. */
  private controlServer: string | undefined;
  private readonly patternsAllowed: boolean;
  /** listenPattern() calls per pattern not yet matched by unlistenPattern(). */
  private readonly patterns = new Map<string, number>();
  /** When each pattern began to be listened to (this node's clock): a gap replay gives it nothing older. */
  private readonly patternsSince = new Map<string, number>();
  /** Servers whose subscriber connection was lost while patterns are on, until replayPatternGap covered what they missed. */
  private readonly patternGaps = new Map<string, PatternGap>();

  constructor(options: RedisEngineOptions = {}) {
    this.prefix = options.prefix ?? "herald:";
    this.positionTtlMs = options.positionTtlMs ?? 24 * 3600_000;
    this.presenceTtlMs = options.presenceTtlMs ?? 60_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
    this.allowSharded = !options.disableShardedPubSub && !options.patterns;
    this.patternsAllowed = options.patterns === true;
    if (options.patterns && options.cluster) throw new Error("the Redis engine cannot deliver pattern subscriptions on a Redis Cluster");
    this.connectionName = (options.connectionName ?? "herald").replace(/[^A-Za-z0-9_.:-]/g, "_");
    const layouts = [options.url, options.shards, options.cluster].filter((layout) => layout !== undefined);
    if (layouts.length > 1) throw new Error("the Redis engine takes one of url, shards and cluster");
    const commands = connectionOptions(this.commandTimeoutMs, `${this.connectionName}-command`);
    this.topology = options.cluster
      ? new RedisClusterTopology(options.cluster, this.prefix, commands)
      : new RedisServers(options.shards ?? [options.url ?? "redis://127.0.0.1:6379"], commands);
    this.controlTopic = `${this.prefix}{${CONTROL}}`;
    this.ownReplyTopic = this.replyTopic(this.instance);
  }

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
    try {
      await this.topology.connect({ up: () => this.recover(), down: () => this.checkAvailable(), moved: () => void this.followMoves() });
      const supported = await Promise.all(this.topology.everyServer().map(supportsShardedPubSub));
      this.sharded = this.allowSharded && supported.every(Boolean);
      this.subscribers = new SubscriberConnections(connectionOptions(this.commandTimeoutMs, `${this.connectionName}-subscriber`), this.sharded, (server) => this.topology.addressOf(server), {
        message: (topic, message) => this.receive(topic, message),
        patternMessage: (topic, message) => this.receiveMatched(topic, message),
        up: () => this.recover(),
        down: (server) => this.lostSubscriber(server),
        moved: () => this.topology.refresh(),
      });
      await this.subscribers.update(this.topology.servers(), true);
      await this.listenControl();
    } catch (error) {
      await this.close();
      throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { cause: error, detail: (error as Error).message });
    }
    this.available = true;
    this.started = true;
    this.presenceTimer = setInterval(() => void this.refreshPresence(), Math.max(1_000, this.presenceTtlMs / 3));
    this.presenceTimer.unref();
  }

  async close(): Promise<void> {
    // A node that stops cleanly takes its counted connections back now, so its users' grace starts
    // now rather than once the entries expire (their clients usually reconnect elsewhere within it).
    const own = [...this.ownUsers.keys()];
    this.ownUsers.clear();
    if (this.started && !this.closed && own.length > 0) {
      await Promise.all(own.map((id) => scripts.userDisconnect.run(this.topology.commandsFor(USERS), this.userKeys(), [id]).catch(() => undefined)));
    }
    this.closed = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.presenceTimer = this.recoveryTimer = undefined;
    const subscribers = this.subscribers;
    this.subscribers = undefined;
    this.held.clear();
    this.byTopic.clear();
    // Surveys under way answer with what came in; the nodes not heard from count as missing.
    for (const survey of this.surveys.values()) survey.finish();
    this.handler = undefined;
    this.available = false;
    await Promise.all([this.topology.close(), subscribers?.close()]);
  }

  async publish(channel: string, type: string, data: unknown, options: StreamOptions, idempotency?: IdempotencyKey, sender?: EventSender, trace?: string, tags?: EventTags): Promise<PublishedEvent> {
    // Where patterns are on, the namespace's index of recent channels (channelsPublishedSince) is kept by the same script.
    const indexed = this.patternsAllowed && namespaceOf(channel) !== "";
    const keys: string[] = this.streamKeys(channel);
    if (indexed) keys.push(this.recentKey(namespaceOf(channel)));
    if (idempotency !== undefined) keys.push(this.idempotencyKey(channel, idempotency.key));
    // Either connection to the channel's server dropping is the first sign the server may be gone:
    // refused now, the event surely was not stored (503); sent into a dead connection, its
    // outcome would be unknown (504).
    const server = this.topology.serverOf(channel);
    if (!this.subscribers?.isUp(server)) throw unreachable(`the subscriber connection to Redis at ${this.topology.addressOf(server)} is down`);
    const command = this.topology.commandsFor(channel);
    let reply: [string, number, number, number];
    try {
      reply = (await this.run("publish", () =>
        scripts.publish.run(command, keys, [
          type,
          JSON.stringify(data ?? null),
          options.historySize,
          options.historyTtlMs,
          this.positionTtlMs,
          newEpoch(),
          this.topic(channel),
          this.sharded ? "SPUBLISH" : "PUBLISH",
          idempotency?.ttlMs ?? 0,
          sender === undefined ? "" : JSON.stringify(sender),
          trace ?? "",
          tags === undefined ? "" : JSON.stringify(tags),
          indexed ? channel : "",
        ]),
      )) as [string, number, number, number];
    } catch (error) {
      if (isHeraldError(error, "engine_unavailable") && mayHaveRun(error.cause)) {
        throw new HeraldError("engine_timeout", ENGINE_TIMEOUT, { cause: error.cause, detail: `Redis publish outcome unknown: ${(error.cause as Error).message}` });
      }
      throw error;
    }
    const event = { channel, type, data: data ?? null, epoch: reply[0], offset: Number(reply[1]), time: Number(reply[2]), replayed: reply[3] === 1 };
    if (sender === undefined && trace === undefined && tags === undefined) return event;
    return { ...event, ...(sender === undefined ? {} : { sender }), ...(trace === undefined ? {} : { trace }), ...(tags === undefined ? {} : { tags }) };
  }

  async recall(channel: string, key: string): Promise<IdempotencyRecord | undefined> {
    const value = await this.run("recall", () => this.topology.commandsFor(channel).get(this.idempotencyKey(channel, key)));
    if (value === null) return undefined;
    const [epoch, offset, time] = value.split(" ");
    return { epoch: epoch!, offset: Number(offset), time: Number(time) };
  }

  async subscribe(channel: string): Promise<void> {
    let held = this.held.get(channel);
    if (held) {
      held.refs += 1;
    } else {
      const topic = this.topic(channel);
      held = {
        channel,
        topic,
        refs: 1,
        epoch: undefined,
        last: 0,
        parked: [],
        catchingUp: true,
        ready: Promise.resolve(),
        starting: true,
        server: undefined,
        subscription: 0,
        catchUps: Promise.resolve(),
      };
      const first = held;
      this.held.set(channel, held);
      this.byTopic.set(topic, held);
      held.ready = (async () => {
        try {
          await this.listen(first);
          // Only now is the topic confirmed: every event after the position read next reaches us.
          await this.catchUp(first);
          // The subscriber connection broke meanwhile: what was published since may not arrive.
          if (first.epoch === undefined) throw unreachable(`the subscriber connection for ${channel} was lost while subscribing`);
        } finally {
          first.starting = false;
        }
      })();
    }
    try {
      await held.ready;
    } catch (error) {
      held.refs -= 1;
      if (held.refs === 0) {
        this.forget(held);
        if (held.server !== undefined) void this.subscribers?.unlisten(held.server, held.topic);
      }
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const held = this.held.get(channel);
    if (!held) return;
    held.refs -= 1;
    if (held.refs > 0) return;
    this.forget(held);
    if (held.server !== undefined) await this.subscribers?.unlisten(held.server, held.topic);
  }

  /**
   * PSUBSCRIBE to the pattern's topics (`<prefix>{orders:*}:events`) on every server: no key is
   * scanned, Redis matches each PUBLISH against the node's globs.
   */
  async listenPattern(pattern: string): Promise<void> {
    if (!this.patternsAllowed) {
      throw new HeraldError("patterns_unsupported", "pattern subscriptions are off on this hub's Redis engine (engine.patterns); subscribe to channels by name");
    }
    const subscribers = this.subscribers;
    if (!subscribers) throw unreachable("the engine is closed");
    const refs = this.patterns.get(pattern) ?? 0;
    this.patterns.set(pattern, refs + 1);
    if (refs > 0) return;
    this.patternsSince.set(pattern, Date.now());
    try {
      await this.run("subscribe", () => subscribers.listenEverywhere(this.patternGlob(pattern)));
    } catch (error) {
      await this.unlistenPattern(pattern);
      throw error;
    }
  }

  async unlistenPattern(pattern: string): Promise<void> {
    const refs = (this.patterns.get(pattern) ?? 0) - 1;
    if (refs > 0) {
      this.patterns.set(pattern, refs);
      return;
    }
    this.patterns.delete(pattern);
    this.patternsSince.delete(pattern);
    await this.subscribers?.unlistenEverywhere(this.patternGlob(pattern));
  }

  /** Asks every server's index of the pattern's namespace (each holds the channels that live there). */
  async channelsPublishedSince(pattern: string, time: number): Promise<string[]> {
    return this.publishedSince(pattern, time, this.topology.everyServer());
  }

  private async publishedSince(pattern: string, time: number, servers: RedisCommands[]): Promise<string[]> {
    const key = this.recentKey(namespaceOf(patternPrefix(pattern)));
    const lists = await this.run("index", () => Promise.all(servers.map((commands) => commands.zrangebyscore(key, time, "+inf"))));
    return [...new Set(lists.flat())].filter((channel) => channelMatches(pattern, channel));
  }

  async history(channel: string, query: HistoryQuery, options: StreamOptions): Promise<HistoryResult> {
    return this.readHistory(channel, query, options);
  }

  async position(channel: string, options: StreamOptions): Promise<StreamPosition> {
    const result = await this.readHistory(channel, { limit: 0 }, options);
    return { epoch: result.epoch, offset: result.offset };
  }

  async addPresence(channel: string, entry: PresenceEntry): Promise<void> {
    this.rememberOwnPresence(channel, entry);
    await this.run("presence", () =>
      scripts.presenceAdd.run(this.topology.commandsFor(channel), this.presenceKeys(channel), [this.presenceTtlMs, entry.connectionId, JSON.stringify(entry)]),
    );
  }

  async removePresence(channel: string, connectionId: string): Promise<void> {
    this.forgetOwnPresence(channel, connectionId);
    const [entries, expiry] = this.presenceKeys(channel);
    await this.run("presence", () => this.topology.commandsFor(channel).multi().hdel(entries, connectionId).zrem(expiry, connectionId).exec());
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const values = (await this.run("presence", () => scripts.presence.run(this.topology.commandsFor(channel), this.presenceKeys(channel), []))) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
  }

  async joinPresence(channel: string, entry: PresenceEntry): Promise<PresenceEntry[]> {
    this.rememberOwnPresence(channel, entry);
    const values = (await this.run("presence", () =>
      scripts.presenceJoin.run(this.topology.commandsFor(channel), this.presenceKeys(channel), [this.presenceTtlMs, entry.connectionId, JSON.stringify(entry)]),
    )) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
  }

  async leavePresence(channel: string, connectionId: string): Promise<PresenceEntry[]> {
    this.forgetOwnPresence(channel, connectionId);
    const values = (await this.run("presence", () => scripts.presenceLeave.run(this.topology.commandsFor(channel), this.presenceKeys(channel), [connectionId]))) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
  }

  async userConnect(user: string, connectionId: string, graceMs: number): Promise<boolean> {
    this.ownUsers.set(connectionId, { user, graceMs });
    const first = await this.run("users", () => scripts.userConnect.run(this.topology.commandsFor(USERS), this.userKeys(), [this.presenceTtlMs, user, connectionId, graceMs]));
    return first === 1;
  }

  async userDisconnect(connectionId: string): Promise<void> {
    if (!this.ownUsers.delete(connectionId)) return;
    await this.run("users", () => scripts.userDisconnect.run(this.topology.commandsFor(USERS), this.userKeys(), [connectionId]));
  }

  async claimOffline(): Promise<string[]> {
    return (await this.run("users", () => scripts.claimOffline.run(this.topology.commandsFor(USERS), this.userKeys(), [CLAIM_LIMIT]))) as string[];
  }

  async acknowledge(channel: string, reader: string, epoch: string, offset: number, options: StreamOptions): Promise<void> {
    await this.run("receipts", () => scripts.acknowledge.run(this.topology.commandsFor(channel), [this.receiptsKey(channel)], [reader, epoch, offset, options.historyTtlMs]));
  }

  async receipts(channel: string, epoch: string, reader?: string): Promise<Receipt[]> {
    const command = this.topology.commandsFor(channel);
    const key = this.receiptsKey(channel);
    const pairs: Array<[string, string | null]> =
      reader === undefined ? Object.entries(await this.run("receipts", () => command.hgetall(key))) : [[reader, await this.run("receipts", () => command.hget(key, reader))]];
    const receipts: Receipt[] = [];
    for (const [name, value] of pairs) {
      const match = value === null ? null : /^(\S+) (\d+) (\d+)$/.exec(value);
      if (match && match[1] === epoch) receipts.push({ reader: name, offset: Number(match[2]), time: Number(match[3]) });
    }
    return receipts;
  }

  async schedule(queue: string, id: string, dueAt: number, payload: string): Promise<void> {
    await this.run("due", () => scripts.schedule.run(this.topology.commandsFor(dueTag(queue)), this.dueKeys(queue), [id, dueAt, payload]));
  }

  async claimDue(queue: string, limit: number, leaseMs: number): Promise<DueItem[]> {
    const flat = (await this.run("due", () => scripts.claimDue.run(this.topology.commandsFor(dueTag(queue)), this.dueKeys(queue), [limit, leaseMs]))) as string[];
    const items: DueItem[] = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ id: flat[i]!, payload: flat[i + 1]! });
    return items;
  }

  async completeDue(queue: string, id: string): Promise<void> {
    const [at, items] = this.dueKeys(queue);
    await this.run("due", () => this.topology.commandsFor(dueTag(queue)).multi().zrem(at, id).hdel(items, id).exec());
  }

  async survey(request: unknown): Promise<SurveyResult> {
    const id = randomBytes(9).toString("base64url");
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const survey: PendingSurvey = { answers: [], heard: 0, failed: 0, expected: undefined, finish };
    // Registered before the request leaves: answers may come back before PUBLISH's own reply.
    this.surveys.set(id, survey);
    let timer: NodeJS.Timeout | undefined;
    try {
      const receivers = await this.run("survey", () => this.sendControl(this.controlTopic, JSON.stringify({ id, from: this.instance, request })));
      const counted = this.sharded || !(this.topology instanceof RedisClusterTopology);
      survey.expected = counted ? receivers : undefined;
      const deadline = Date.now() + this.commandTimeoutMs;
      const local = this.handler?.onControl ? [viaJson(await this.handler.onControl(request))] : [];
      if ((survey.expected === undefined || survey.heard < survey.expected) && !this.closed) {
        timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
        await finished;
      }
      const missing = survey.expected === undefined ? 0 : Math.max(0, survey.expected - survey.heard);
      return { answers: [...local, ...survey.answers], missing: missing + survey.failed };
    } finally {
      clearTimeout(timer);
      this.surveys.delete(id);
    }
  }

  status(): EngineStatus {
    return {
      name: this.name,
      available: this.available,
      details: {
        ...this.topology.describe(),
        unreachable: (this.subscribers?.down() ?? []).map((server) => this.topology.addressOf(server)),
        prefix: this.prefix,
        pubsub: this.sharded ? "sharded" : "classic",
        channels: this.held.size,
        eventsCaughtUp: this.eventsMissedRecovered,
        gaps: this.gaps,
      },
    };
  }

  // ---- keys -----------------------------------------------------------------------------------

  /** Every key of a channel carries the hash tag {channel}, so all of them share one cluster slot. */
  private streamKeys(channel: string): [string, string] {
    return [`${this.prefix}{${channel}}:meta`, `${this.prefix}{${channel}}:stream`];
  }

  /** The key's record; hashed, so any key (up to 255 characters, any bytes) makes a short, safe name. */
  private idempotencyKey(channel: string, key: string): string {
    return `${this.prefix}{${channel}}:idem:${createHash("sha256").update(key).digest("base64url")}`;
  }

  private presenceKeys(channel: string): [string, string] {
    return [`${this.prefix}{${channel}}:presence`, `${this.prefix}{${channel}}:presence-expiry`];
  }

  private dueKeys(queue: string): [string, string] {
    const base = `${this.prefix}{${dueTag(queue)}}`;
    return [`${base}:due`, `${base}:items`];
  }

  private receiptsKey(channel: string): string {
    return `${this.prefix}{${channel}}:receipts`;
  }

  private userKeys(): string[] {
    const base = `${this.prefix}{${USERS}}`;
    return [`${base}:connections`, `${base}:expiry`, `${base}:counts`, `${base}:online`, `${base}:deadlines`];
  }

  /** The index of a namespace's recent channels; one per server, each holding that server's channels. */
  private recentKey(namespace: string): string {
    return `${this.prefix}{${namespace}}:recent`;
  }

  private topic(channel: string): string {
    return `${this.prefix}{${channel}}:events`;
  }

  /** The glob of a pattern's topics; the prefix's glob characters are escaped (a channel has none). */
  private patternGlob(pattern: string): string {
    return `${this.prefix.replace(/[\\?*[\]]/g, "\\$&")}{${pattern}}:events`;
  }

  private replyTopic(instance: string): string {
    return `${this.prefix}{${CONTROL}}:${instance}`;
  }

  // ---- reading --------------------------------------------------------------------------------

  private async readHistory(channel: string, query: HistoryQuery, options: StreamOptions | undefined): Promise<HistoryResult> {
    const reply = (await this.run("history", () =>
      scripts.history.run(this.topology.commandsFor(channel), this.streamKeys(channel), [
        query.since ?? "",
        query.limit ?? "",
        options?.historySize ?? "",
        options?.historyTtlMs ?? "",
        this.positionTtlMs,
        newEpoch(),
      ]),
    )) as [string, number, number, string[]];
    const [epoch, offset, complete, flat] = reply;
    const events: StreamEvent[] = [];
    for (let i = 0; i < flat.length; i += 7) {
      let event: StreamEvent = { channel, epoch, offset: Number(flat[i]), type: flat[i + 1]!, data: JSON.parse(flat[i + 2]!), time: Number(flat[i + 3]) };
      if (flat[i + 4]) event = { ...event, sender: JSON.parse(flat[i + 4]!) as EventSender };
      if (flat[i + 5]) event = { ...event, trace: flat[i + 5]! };
      if (flat[i + 6]) event = { ...event, tags: JSON.parse(flat[i + 6]!) as EventTags };
      events.push(event);
    }
    return { epoch, offset: Number(offset), complete: complete === 1, events };
  }

  // ---- delivery -------------------------------------------------------------------------------

  private receive(topic: string, message: string): void {
    const held = this.byTopic.get(topic);
    if (!held) {
      // Looked at only when no channel matches, so channel events pay nothing for control messages.
      if (topic === this.controlTopic || topic === this.ownReplyTopic) this.receiveControl(topic, message);
      return;
    }
    const parsed = JSON.parse(message) as { epoch: string; offset: number; time: number; type: string; data: unknown; trace?: string; tags?: EventTags };
    held.parked.push({ channel: held.channel, ...parsed });
    this.drain(held);
  }

  /**
   * An event that reached a pattern glob. A channel this node holds gets it through its own topic
   * (in order, gaps caught up), except while its first subscribe is under way: it reads its
   * position only after it listens, so what came before is passed on here too (the hub drops
   * the copies by offset).
   */
  private receiveMatched(topic: string, message: string): void {
    const channel = topic.slice(this.prefix.length + 1, -"}:events".length);
    const held = this.held.get(channel);
    if (held && !held.starting) return;
    const parsed = JSON.parse(message) as { epoch: string; offset: number; time: number; type: string; data: unknown; trace?: string };
    const event: StreamEvent = { channel, ...parsed };
    // Its server's connection just came back: the events it missed go first (replayPatternGap).
    const gap = this.patternGaps.size > 0 ? this.patternGaps.get(this.topology.serverOf(channel)) : undefined;
    if (gap) {
      const parked = gap.parked.get(channel);
      if (parked) parked.push(event);
      else gap.parked.set(channel, [event]);
      return;
    }
    this.handler?.onEvent(event);
  }

  /**
   * After the subscriber connection to a server came back, the channels of that server that got
   * events while it was down and that this node does not hold (so no catch-up covers them: a
   * channel publishing for the first time, say) would be missed by the pattern subscriptions: pub/sub
   * does not keep what it could not deliver. Their events since the loss (for a pattern listened to
   * since, since then) are read from history, found through the namespaces' indexes of recent
   * channels, and passed on in offset order; matched messages that arrived meanwhile were parked and
   * follow, the ones already replayed left out. The hub treats them as a channel that starts
   * matching. Events that left history during the outage cannot be replayed.
   */
  private async replayPatternGap(server: string, gap: PatternGap): Promise<void> {
    const losses = gap.losses;
    const ready = this.topology.everyServer().filter((commands) => (commands as { status?: string }).status === "ready");
    const starts = new Map<string, number>();
    for (const pattern of this.patterns.keys()) {
      const since = Math.max(gap.since, (this.patternsSince.get(pattern) ?? 0) - GAP_MARGIN_MS);
      for (const channel of await this.publishedSince(pattern, since, ready)) {
        if (this.topology.serverOf(channel) !== server || this.held.has(channel)) continue;
        starts.set(channel, Math.min(starts.get(channel) ?? since, since));
      }
    }
    const replays = await Promise.all([...starts].map(async ([channel, since]) => (await this.readHistory(channel, {}, undefined)).events.filter((event) => event.time >= since)));
    // Lost again meanwhile: what it missed since is not covered yet, and the next recovery starts over.
    if (gap.losses !== losses || !this.subscribers?.isUp(server) || this.patternGaps.get(server) !== gap) return;
    this.patternGaps.delete(server);
    const replayed = new Map<string, StreamEvent>();
    for (const events of replays) {
      for (const event of events) {
        replayed.set(event.channel, event);
        this.handler?.onEvent(event);
      }
    }
    for (const [channel, parked] of gap.parked) {
      const last = replayed.get(channel);
      for (const event of parked) if (!last || event.epoch !== last.epoch || event.offset > last.offset) this.handler?.onEvent(event);
    }
  }

  /** Delivers parked messages in offset order; on a gap, starts a catch-up read and stops. */
  private drain(held: Held): void {
    while (!held.catchingUp && held.parked.length > 0 && this.held.get(held.channel) === held) {
      const event = held.parked[0]!;
      if (event.epoch !== held.epoch) {
        // A new epoch (the channel's position expired or was lost in Redis). Pub/sub keeps order and
        // no gap was seen before, so every event of the old epoch was delivered: start the new one.
        held.epoch = event.epoch;
        held.last = 0;
      }
      if (event.offset <= held.last) {
        held.parked.shift();
        continue;
      }
      if (event.offset > held.last + 1) {
        void this.catchUp(held).catch(() => this.scheduleRecovery());
        return;
      }
      held.parked.shift();
      held.last = event.offset;
      this.handler?.onEvent(event);
    }
  }

  /**
   * Brings a held channel up to date from the stream: reads its position the first time, else the
   * events after the last one delivered. Live messages are parked meanwhile and delivered after.
   * Catch-ups of one channel run one after another. On failure (Redis went away) the channel stays
   * parked until recover() runs it again.
   */
  private catchUp(held: Held): Promise<void> {
    const run = held.catchUps.catch(() => undefined).then(() => this.catchUpOnce(held));
    held.catchUps = run;
    return run;
  }

  private async catchUpOnce(held: Held): Promise<void> {
    held.catchingUp = true;
    // Not listened to: events may be missed until it is again, and recovery catches up after that.
    if (held.server === undefined || this.held.get(held.channel) !== held) return;
    const subscription = held.subscription;
    const read = await this.readHistory(held.channel, held.epoch === undefined ? { limit: 0 } : { since: held.last }, undefined);
    // The topic stopped being listened to, or was listened to anew, during the read: events after
    // it may have been missed. The catch-up that follows the new listen does the work instead.
    if (held.subscription !== subscription || held.server === undefined || this.held.get(held.channel) !== held) return;
    if (held.epoch === undefined) {
      held.epoch = read.epoch;
      held.last = read.offset;
    } else if (read.epoch !== held.epoch || !read.complete) {
      this.reportGap(held);
      held.epoch = read.epoch;
      held.last = read.offset;
    } else {
      for (const event of read.events) {
        if (event.offset <= held.last) continue;
        held.last = event.offset;
        this.eventsMissedRecovered += 1;
        this.handler?.onEvent(event);
      }
    }
    held.catchingUp = false;
    this.drain(held);
  }

  private reportGap(held: Held): void {
    this.gaps += 1;
    this.handler?.onGap?.(held.channel);
  }

  private forget(held: Held): void {
    if (this.held.get(held.channel) === held) this.held.delete(held.channel);
    if (this.byTopic.get(held.topic) === held) this.byTopic.delete(held.topic);
  }

  /** Listens to the channel's topic on the server that holds it now. */
  private async listen(held: Held): Promise<void> {
    const subscribers = this.subscribers;
    if (!subscribers) throw unreachable("the engine is closed");
    const server = this.topology.serverOf(held.channel);
    await this.run("subscribe", () => subscribers.listen(server, held.topic));
    held.server = server;
    held.subscription += 1;
  }

  // ---- control --------------------------------------------------------------------------------

  /** Listens to the control topics on the server that holds them now. */
  private async listenControl(): Promise<void> {
    const subscribers = this.subscribers;
    if (!subscribers) throw unreachable("the engine is closed");
    const server = this.topology.serverOf(CONTROL);
    await this.run("subscribe", () => Promise.all([subscribers.listen(server, this.controlTopic), subscribers.listen(server, this.ownReplyTopic)]));
    this.controlServer = server;
  }

  /** Publishes a control message with the pub/sub kind the topics use; resolves to how many subscribers got it. */
  private sendControl(topic: string, message: string): Promise<number> {
    const commands = this.topology.commandsFor(CONTROL);
    return this.sharded ? (commands.spublish(topic, message) as Promise<number>) : commands.publish(topic, message);
  }

  private receiveControl(topic: string, message: string): void {
    let parsed: { id?: unknown; from?: unknown; request?: unknown; answer?: unknown; failed?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.id !== "string") return;
    if (topic === this.controlTopic) {
      if (parsed.from === this.instance) {
        // This node's own copy: it acted on the request directly, so it is heard, not answered.
        this.heard(parsed.id, undefined, false);
        return;
      }
      if (typeof parsed.from === "string" && INSTANCE.test(parsed.from)) void this.answerControl(parsed.id, parsed.from, parsed.request);
      return;
    }
    if (parsed.failed === true) this.heard(parsed.id, undefined, true);
    else this.heard(parsed.id, [parsed.answer ?? null], false);
  }

  private heard(id: string, answer: [unknown] | undefined, failed: boolean): void {
    const survey = this.surveys.get(id);
    if (!survey) return;
    survey.heard += 1;
    if (failed) survey.failed += 1;
    if (answer) survey.answers.push(answer[0]);
    if (survey.expected !== undefined && survey.heard >= survey.expected) survey.finish();
  }

  /** Handles another node's control request and publishes the answer to its reply topic. */
  private async answerControl(id: string, from: string, request: unknown): Promise<void> {
    let reply: string;
    try {
      if (!this.handler?.onControl) throw new Error("no control handler");
      reply = JSON.stringify({ id, answer: await this.handler.onControl(request) });
    } catch {
      reply = JSON.stringify({ id, failed: true });
    }
    await this.sendControl(this.replyTopic(from), reply).catch(() => undefined);
  }

  // ---- availability ---------------------------------------------------------------------------

  private lostSubscriber(server: string): void {
    if (this.controlServer === server) this.controlServer = undefined;
    // Pattern globs miss what is published there from now on, for channels no catch-up covers.
    if (this.patternsAllowed && this.started) {
      const gap = this.patternGaps.get(server);
      if (gap) gap.losses += 1;
      else this.patternGaps.set(server, { since: Date.now() - GAP_MARGIN_MS, parked: new Map(), losses: 0 });
    }
    // Messages sent while the connection is down are lost: the server's channels must catch up
    // later, and their topics must be listened to again on the new connection.
    for (const held of this.held.values()) {
      if (held.server !== server) continue;
      held.server = undefined;
      held.subscription += 1;
      held.catchingUp = true;
    }
    this.checkAvailable();
  }

  /** After the servers changed (a cluster failover or resharding): channels follow their slot to its new server. */
  private async followMoves(): Promise<void> {
    if (this.closed || !this.subscribers) return;
    await this.subscribers.update(this.topology.servers(), false).catch(() => undefined);
    for (const held of this.held.values()) {
      const now = this.topology.serverOf(held.channel);
      if (held.server === undefined || held.server === now) continue;
      void this.subscribers?.unlisten(held.server, held.topic);
      held.server = undefined;
      held.subscription += 1;
      held.catchingUp = true;
    }
    const control = this.controlServer;
    if (control !== undefined && control !== this.topology.serverOf(CONTROL)) {
      for (const topic of [this.controlTopic, this.ownReplyTopic]) void this.subscribers?.unlisten(control, topic);
      this.controlServer = undefined;
    }
    this.recover();
  }

  /** Unavailable once no command connection or no subscriber connection is up. */
  private checkAvailable(): void {
    if (!this.topology.reachable || !this.subscribers?.anyUp) this.setAvailable(false);
  }

  /** Runs recovery once at a time; a request made while one runs starts another after it. */
  private recover(): void {
    this.recovery = this.recovery.then(() => this.recoverOnce()).catch(() => this.scheduleRecovery());
  }

  private scheduleRecovery(): void {
    if (this.closed || this.recoveryTimer) return;
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      this.recover();
    }, 500);
    this.recoveryTimer.unref();
  }

  /**
   * Listens again to every held channel not listened to (after a subscriber reconnect or a move),
   * then catches up every channel that may have missed messages. Reports available once every
   * channel of a reachable server is caught up; channels of a server still away are tried again.
   */
  private async recoverOnce(): Promise<void> {
    const subscribers = this.subscribers;
    if (this.closed || !this.started || !subscribers) return;
    // Surveys reach this node again once it listens to the control topics; a failure is tried again later.
    if (this.controlServer === undefined) await this.listenControl().catch(() => this.scheduleRecovery());
    // A channel in its first subscribe() listens and catches up there.
    const behind = [...this.held.values()].filter((h) => !h.starting && (h.server === undefined || h.catchingUp));
    const results = await Promise.allSettled(behind.map((h) => this.restore(h)));
    const failed = behind.filter((_, i) => results[i]!.status === "rejected");
    if (failed.length > 0) this.scheduleRecovery();
    for (const [server, gap] of [...this.patternGaps]) {
      if (subscribers.isUp(server)) await this.replayPatternGap(server, gap).catch(() => this.scheduleRecovery());
    }
    const blocked = failed.some((h) => subscribers.isUp(this.topology.serverOf(h.channel)));
    if (this.topology.reachable && subscribers.anyUp && !blocked) this.setAvailable(true);
    else this.checkAvailable();
  }

  private async restore(held: Held): Promise<void> {
    if (held.server === undefined) await this.listen(held);
    await this.catchUp(held);
    if (held.catchingUp && this.held.get(held.channel) === held) throw unreachable(`${held.channel} is not caught up yet`);
  }

  private setAvailable(available: boolean): void {
    if (this.closed || this.available === available) return;
    this.available = available;
    this.handler?.onAvailabilityChange?.(available);
    if (available) void this.refreshPresence();
  }

  /** This node refreshes the entries it added until they are removed (see refreshPresence). */
  private rememberOwnPresence(channel: string, entry: PresenceEntry): void {
    let own = this.ownPresence.get(channel);
    if (!own) this.ownPresence.set(channel, (own = new Map()));
    own.set(entry.connectionId, entry);
  }

  private forgetOwnPresence(channel: string, connectionId: string): void {
    const own = this.ownPresence.get(channel);
    own?.delete(connectionId);
    if (own?.size === 0) this.ownPresence.delete(channel);
  }

  private async refreshPresence(): Promise<void> {
    await Promise.all([this.refreshUsers(), ...[...this.ownPresence].map(async ([channel, entries]) => {
        let command: RedisCommands;
        try {
          command = this.topology.commandsFor(channel);
        } catch {
          return; // its server is away; the next round refreshes it
        }
        await scripts.presenceAdd
          .run(command, this.presenceKeys(channel), [this.presenceTtlMs, ...[...entries].flatMap(([id, entry]) => [id, JSON.stringify(entry)])])
          .catch(() => undefined);
      }),
    ]);
  }

  /** Refreshes this node's counted connections; users counted offline meanwhile (cut off too long) are online again. */
  private async refreshUsers(): Promise<void> {
    if (this.ownUsers.size === 0) return;
    try {
      const args = [...this.ownUsers].flatMap(([id, { user, graceMs }]) => [id, user, graceMs]);
      const back = (await scripts.userRefresh.run(this.topology.commandsFor(USERS), this.userKeys(), [this.presenceTtlMs, ...args])) as string[];
      if (back.length > 0) this.handler?.onUsersOnline?.(back);
    } catch {
      // Its server is away; the next round refreshes them.
    }
  }

  // ---- errors ---------------------------------------------------------------------------------

  /** Runs a Redis call; a connection problem becomes engine_unavailable, a Redis reply error stays as it is. */
  private async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isHeraldError(error)) throw error;
      if ((error as Error).name === "ReplyError" && !/^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)/.test((error as Error).message)) throw error;
      throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { cause: error, detail: `Redis ${what} failed: ${(error as Error).message}` });
    }
  }
}

/**
 * Whether a failed command may still have run in Redis: it was written to the connection and then
 * the connection broke or the answer did not come in time. Refused before sending (not connected,
 * offline queue off) or answered with an error by Redis, it surely did not.
 */
function mayHaveRun(cause: unknown): boolean {
  if (!(cause instanceof Error)) return false;
  if (cause.name === "ReplyError") return false;
  return !/^Stream isn't writeable/.test(cause.message);
}

async function supportsShardedPubSub(redis: RedisCommands): Promise<boolean> {
  try {
    const info = (await redis.call("COMMAND", "INFO", "SPUBLISH")) as unknown[];
    return Array.isArray(info) && info[0] != null;
  } catch {
    return false;
  }
}

