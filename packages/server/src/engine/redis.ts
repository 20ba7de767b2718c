/**
 * The Redis engine: many Herald nodes on one Redis act as one hub.
 *
 * Streams: each channel's position (epoch, offset) lives in a hash and its history in a Redis
 * Stream; a Lua script assigns the offset, stores the event and publishes it in one atomic step
 * (see redis-scripts.ts), so every node sees one order per channel.
 *
 * Fan-out: a dedicated subscriber connection listens on one pub/sub channel per Herald channel
 * held by this node (sharded SSUBSCRIBE/SPUBLISH when the server has them, Redis 7+, else
 * SUBSCRIBE/PUBLISH).
 *
 * Delivery invariant (the engine contract's point 3): for every channel held, the engine knows the
 * last offset it passed to `onEvent`. A message with the next offset is delivered; an older one is
 * dropped; a newer one means messages were missed (pub/sub is fire-and-forget, e.g. while the
 * subscriber connection was down), so the engine parks live messages, reads the missing events
 * from the stream, delivers them, then the parked ones. After a reconnect it resubscribes every
 * channel and runs the same catch-up for each, so events published while this node was cut off
 * reach its clients in order. When the missing events have already left history, nothing can
 * bring them back: the engine tells the hub through `onGap` (the hub makes those clients recover
 * with `since`, where they learn `recovered: false`) instead of skipping them silently.
 *
 * Honesty: commands are never queued while Redis is away and never re-sent after a lost
 * connection (a re-sent publish could store an event twice); they fail at once. A publish that
 * never left this node (not connected) rejects with engine_unavailable: nothing was stored.
 * One that was sent and then lost its connection or its answer (timeout) may have been stored, so
 * it rejects with engine_timeout: the outcome is unknown, and a retry with the same
 * idempotency key settles it.
 *
 * Idempotency: the publish script checks and writes the key's record (`{channel}:idem:<hash>`,
 * expiring after the key's TTL) in the same atomic step as the append, so a retry on any node
 * stores nothing and gets the first event's position.
 *
 * Presence: a hash of entries and a sorted set of their expiry times per channel; each node
 * refreshes the entries of its own connections, so a crashed node's connections disappear once
 * their expiry passes.
 *
 * Control (the contract's point 7): every node listens on `<prefix>control` and on a reply topic of
 * its own, `<prefix>control:<instance>`, on the subscriber connection beside the channel topics and
 * of the same kind (sharded or not: ioredis takes a connection out of subscriber mode when the last
 * topic of one kind goes, and would then drop the other kind's messages). A survey publishes the
 * request; Redis answers how many subscribers got it,
 * which is exactly how many nodes are running (a stopped node's connection is gone), this one
 * included when its subscriber connection is up. Each other node handles the request and
 * publishes its answer to the asker's reply topic; the asker's own copy only counts it as heard,
 * since it has already acted on the request directly (so it acts even when cut off from pub/sub).
 * The survey waits for that many answers, at most the command timeout. Nothing is stored.
 */

import { createHash, randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { StreamPosition } from "@herald/protocol";
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
  type PresenceEntry,
  type PublishedEvent,
  type StreamEvent,
  type StreamOptions,
  type SurveyResult,
  viaJson,
} from "./engine.js";
import { scripts } from "./redis-scripts.js";
import { HeraldError, isHeraldError } from "../shared/herald-error.js";

export interface RedisEngineOptions {
  /** Redis URL, e.g. redis://127.0.0.1:6379/0. Default redis://127.0.0.1:6379. */
  url?: string;
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
}

/** A survey this node sent, waiting for the other nodes' answers. */
interface PendingSurvey {
  readonly answers: unknown[];
  /** Copies of the request heard back: answers, failures and this node's own copy. */
  heard: number;
  failed: number;
  /** How many nodes got the request (PUBLISH's answer); undefined until it is known. */
  expected: number | undefined;
  /** Ends the wait. */
  finish(): void;
}

const newEpoch = (): string => randomBytes(6).toString("base64url");
/** The shape of an instance name in a control message, so a reply topic is never made from anything else. */
const INSTANCE = /^[A-Za-z0-9_-]{1,32}$/;

export class RedisEngine implements Engine {
  readonly name = "redis";
  private readonly url: string;
  private readonly prefix: string;
  private readonly positionTtlMs: number;
  private readonly presenceTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly allowSharded: boolean;
  private readonly connectionName: string;
  private command: Redis | undefined;
  private subscriber: Redis | undefined;
  private handler: EngineHandler | undefined;
  private sharded = false;
  private available = false;
  private closed = false;
  private readonly held = new Map<string, Held>();
  private readonly byTopic = new Map<string, Held>();
  /** This node's presence entries, refreshed periodically: channel -> connectionId -> entry. */
  private readonly ownPresence = new Map<string, Map<string, PresenceEntry>>();
  private presenceTimer: NodeJS.Timeout | undefined;
  private mustResubscribe = false;
  private recovery: Promise<void> = Promise.resolve();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private eventsMissedRecovered = 0;
  private gaps = 0;
  /** Names this engine in control messages, so the answers to its surveys come back to it alone. */
  private readonly instance = randomBytes(9).toString("base64url");
  /** Where surveys are sent; every node listens. Without braces, so no channel topic can equal it. */
  private readonly controlTopic: string;
  /** Where the answers to this node's surveys come. */
  private readonly ownReplyTopic: string;
  private readonly surveys = new Map<string, PendingSurvey>();

  constructor(options: RedisEngineOptions = {}) {
    this.url = options.url ?? "redis://127.0.0.1:6379";
    this.prefix = options.prefix ?? "herald:";
    this.positionTtlMs = options.positionTtlMs ?? 24 * 3600_000;
    this.presenceTtlMs = options.presenceTtlMs ?? 60_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
    this.allowSharded = !options.disableShardedPubSub;
    this.connectionName = (options.connectionName ?? "herald").replace(/[^A-Za-z0-9_.:-]/g, "_");
    this.controlTopic = `${this.prefix}control`;
    this.ownReplyTopic = this.replyTopic(this.instance);
  }

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
    const common: RedisOptions = {
      // Fail at once while Redis is away instead of queueing: a queued publish would be
      // "accepted" by nobody, and a re-sent one could be stored twice.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.commandTimeoutMs,
      lazyConnect: true,
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    };
    this.command = new Redis(this.url, { ...common, connectionName: `${this.connectionName}-command` });
    this.subscriber = new Redis(this.url, { ...common, connectionName: `${this.connectionName}-subscriber` });
    // ioredis reports every failed reconnection attempt as an error; availability carries the news.
    let lastError = "";
    const remember = (error: Error): void => {
      lastError = error.message;
    };
    this.command.on("error", remember);
    this.subscriber.on("error", remember);
    try {
      await Promise.all([this.command.connect(), this.subscriber.connect()]);
    } catch (error) {
      await this.close();
      throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { cause: error, detail: `cannot reach Redis at ${redactUrl(this.url)}: ${lastError || (error as Error).message}` });
    }
    this.sharded = this.allowSharded && (await supportsShardedPubSub(this.command));
    const onMessage = (topic: string, message: string): void => this.receive(topic, message);
    this.subscriber.on(this.sharded ? "smessage" : "message", onMessage);
    try {
      await this.listenControl(this.subscriber);
    } catch (error) {
      await this.close();
      throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { cause: error, detail: `cannot listen for control messages on Redis at ${redactUrl(this.url)}: ${(error as Error).message}` });
    }
    this.command.on("close", () => this.setAvailable(false));
    this.subscriber.on("close", () => this.lostSubscriber());
    this.command.on("ready", () => this.recover());
    this.subscriber.on("ready", () => this.recover());
    this.available = true;
    this.presenceTimer = setInterval(() => void this.refreshPresence(), Math.max(1_000, this.presenceTtlMs / 3));
    this.presenceTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.presenceTimer = this.recoveryTimer = undefined;
    const connections = [this.command, this.subscriber].filter((c): c is Redis => c !== undefined);
    this.command = this.subscriber = undefined;
    this.held.clear();
    this.byTopic.clear();
    // Surveys under way answer with what came in; the nodes not heard from count as missing.
    for (const survey of this.surveys.values()) survey.finish();
    this.handler = undefined;
    this.available = false;
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  async publish(channel: string, type: string, data: unknown, options: StreamOptions, idempotency?: IdempotencyKey, sender?: EventSender): Promise<PublishedEvent> {
    const keys = idempotency === undefined ? this.streamKeys(channel) : [...this.streamKeys(channel), this.idempotencyKey(channel, idempotency.key)];
    const command = this.ready(this.command);
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
        ]),
      )) as [string, number, number, number];
    } catch (error) {
      if (isHeraldError(error, "engine_unavailable") && mayHaveRun(error.cause)) {
        throw new HeraldError("engine_timeout", ENGINE_TIMEOUT, { cause: error.cause, detail: `Redis publish outcome unknown: ${(error.cause as Error).message}` });
      }
      throw error;
    }
    const event = { channel, type, data: data ?? null, epoch: reply[0], offset: Number(reply[1]), time: Number(reply[2]), replayed: reply[3] === 1 };
    return sender === undefined ? event : { ...event, sender };
  }

  async recall(channel: string, key: string): Promise<IdempotencyRecord | undefined> {
    const value = await this.run("recall", () => this.ready(this.command).get(this.idempotencyKey(channel, key)));
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
      held = { channel, topic, refs: 1, epoch: undefined, last: 0, parked: [], catchingUp: true, ready: Promise.resolve() };
      const first = held;
      this.held.set(channel, held);
      this.byTopic.set(topic, held);
      held.ready = (async () => {
        await this.run("subscribe", () => this.listen(this.ready(this.subscriber), topic));
        // Only now is the topic confirmed: every event after the position read next reaches us.
        await this.catchUp(first);
      })();
    }
    try {
      await held.ready;
    } catch (error) {
      held.refs -= 1;
      if (held.refs === 0) this.forget(held);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const held = this.held.get(channel);
    if (!held) return;
    held.refs -= 1;
    if (held.refs > 0) return;
    this.forget(held);
    const subscriber = this.subscriber;
    if (subscriber?.status !== "ready") return; // a reconnect will not resubscribe it
    await (this.sharded ? subscriber.sunsubscribe(held.topic) : subscriber.unsubscribe(held.topic)).catch(() => undefined);
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
      scripts.presenceAdd.run(this.ready(this.command), this.presenceKeys(channel), [this.presenceTtlMs, entry.connectionId, JSON.stringify(entry)]),
    );
  }

  async removePresence(channel: string, connectionId: string): Promise<void> {
    this.forgetOwnPresence(channel, connectionId);
    const [entries, expiry] = this.presenceKeys(channel);
    await this.run("presence", () => this.ready(this.command).multi().hdel(entries, connectionId).zrem(expiry, connectionId).exec());
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const values = (await this.run("presence", () => scripts.presence.run(this.ready(this.command), this.presenceKeys(channel), []))) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
  }

  async joinPresence(channel: string, entry: PresenceEntry): Promise<PresenceEntry[]> {
    this.rememberOwnPresence(channel, entry);
    const values = (await this.run("presence", () =>
      scripts.presenceJoin.run(this.ready(this.command), this.presenceKeys(channel), [this.presenceTtlMs, entry.connectionId, JSON.stringify(entry)]),
    )) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
  }

  async leavePresence(channel: string, connectionId: string): Promise<PresenceEntry[]> {
    this.forgetOwnPresence(channel, connectionId);
    const values = (await this.run("presence", () => scripts.presenceLeave.run(this.ready(this.command), this.presenceKeys(channel), [connectionId]))) as string[];
    return values.map((value) => JSON.parse(value) as PresenceEntry);
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
      const message = JSON.stringify({ id, from: this.instance, request });
      survey.expected = await this.run("survey", () => this.send(this.ready(this.command), this.controlTopic, message));
      const deadline = Date.now() + this.commandTimeoutMs;
      const local = this.handler?.onControl ? [viaJson(await this.handler.onControl(request))] : [];
      if (survey.heard < survey.expected && !this.closed) {
        timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
        await finished;
      }
      return { answers: [...local, ...survey.answers], missing: Math.max(0, survey.expected - survey.heard) + survey.failed };
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
        url: redactUrl(this.url),
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

  private topic(channel: string): string {
    return `${this.prefix}{${channel}}:events`;
  }

  /** Where surveys are sent; every node listens. Without braces, so no channel topic can equal it. */
  private replyTopic(instance: string): string {
    return `${this.prefix}control:${instance}`;
  }

  private listenControl(subscriber: Redis): Promise<unknown> {
    // One call per topic: sharded topics of one call must share a cluster slot.
    return Promise.all([this.listen(subscriber, this.controlTopic), this.listen(subscriber, this.ownReplyTopic)]);
  }

  /** Publishes a control message with the pub/sub kind the topics use; resolves to how many subscribers got it. */
  private send(command: Redis, topic: string, message: string): Promise<number> {
    return this.sharded ? (command.spublish(topic, message) as Promise<number>) : command.publish(topic, message);
  }

  // ---- reading --------------------------------------------------------------------------------

  private async readHistory(channel: string, query: HistoryQuery, options: StreamOptions | undefined): Promise<HistoryResult> {
    const reply = (await this.run("history", () =>
      scripts.history.run(this.ready(this.command), this.streamKeys(channel), [
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
    for (let i = 0; i < flat.length; i += 5) {
      const event: StreamEvent = { channel, epoch, offset: Number(flat[i]), type: flat[i + 1]!, data: JSON.parse(flat[i + 2]!), time: Number(flat[i + 3]) };
      events.push(flat[i + 4] ? { ...event, sender: JSON.parse(flat[i + 4]!) as EventSender } : event);
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
    const parsed = JSON.parse(message) as { epoch: string; offset: number; time: number; type: string; data: unknown };
    held.parked.push({ channel: held.channel, ...parsed });
    this.drain(held);
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
   * On failure (Redis went away) the channel stays parked until recover() runs it again.
   */
  private async catchUp(held: Held): Promise<void> {
    held.catchingUp = true;
    {
      if (held.epoch === undefined) {
        const position = await this.readHistory(held.channel, { limit: 0 }, undefined);
        held.epoch = position.epoch;
        held.last = position.offset;
      } else {
        const history = await this.readHistory(held.channel, { since: held.last }, undefined);
        if (history.epoch !== held.epoch || !history.complete) {
          this.reportGap(held);
          held.epoch = history.epoch;
          held.last = history.offset;
        } else {
          for (const event of history.events) {
            if (this.held.get(held.channel) !== held) return;
            if (event.offset <= held.last) continue;
            held.last = event.offset;
            this.eventsMissedRecovered += 1;
            this.handler?.onEvent(event);
          }
        }
      }
      held.catchingUp = false;
    }
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

  private listen(subscriber: Redis, topic: string): Promise<unknown> {
    return this.sharded ? subscriber.ssubscribe(topic) : subscriber.subscribe(topic);
  }

  // ---- control --------------------------------------------------------------------------------

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
    const command = this.command;
    if (command?.status !== "ready") return;
    await this.send(command, this.replyTopic(from), reply).catch(() => undefined);
  }

  // ---- availability ---------------------------------------------------------------------------

  private lostSubscriber(): void {
    // Messages sent while the connection is down are lost: every channel must catch up later,
    // and its topic must be listened to again on the new connection.
    this.mustResubscribe = true;
    for (const held of this.held.values()) held.catchingUp = true;
    this.setAvailable(false);
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
   * Once both connections are up: listen again on every held channel (after a subscriber
   * reconnect), then catch up every channel that may have missed messages, then report available.
   */
  private async recoverOnce(): Promise<void> {
    const subscriber = this.subscriber;
    if (this.closed || !subscriber || subscriber.status !== "ready" || this.command?.status !== "ready") return;
    if (this.mustResubscribe) {
      this.mustResubscribe = false;
      try {
        await Promise.all([this.listenControl(subscriber), ...[...this.held.values()].map((h) => this.listen(subscriber, h.topic))]);
      } catch (error) {
        this.mustResubscribe = true;
        throw error;
      }
    }
    // A channel whose epoch is unknown is still in its first subscribe(), which catches it up.
    const behind = [...this.held.values()].filter((h) => h.catchingUp && h.epoch !== undefined);
    await Promise.all(behind.map((h) => this.catchUp(h)));
    this.setAvailable(true);
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
    const command = this.command;
    if (command?.status !== "ready") return;
    await Promise.all(
      [...this.ownPresence].map(([channel, entries]) =>
        scripts.presenceAdd
          .run(command, this.presenceKeys(channel), [this.presenceTtlMs, ...[...entries].flatMap(([id, entry]) => [id, JSON.stringify(entry)])])
          .catch(() => undefined),
      ),
    );
  }

  // ---- errors ---------------------------------------------------------------------------------

  private ready(connection: Redis | undefined): Redis {
    if (!connection || connection.status !== "ready") throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { detail: "Redis is not reachable" });
    return connection;
  }

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

async function supportsShardedPubSub(redis: Redis): Promise<boolean> {
  try {
    const info = (await redis.call("COMMAND", "INFO", "SPUBLISH")) as unknown[];
    return Array.isArray(info) && info[0] != null;
  } catch {
    return false;
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
