/**
 * The hub: channels, subscriptions, recovery and fan-out, independent of any transport.
 *
 * Lifecycle of a channel on this node: the first subscription (or long-poll waiter) creates its
 * ChannelState and asks the engine to deliver the channel's events here; the last one leaving
 * removes it and tells the engine to stop.
 *
 * Recovery without gaps or duplicates: a new subscription is added to the channel *before*
 * history is read, parked in "recovering" mode. Live events that arrive meanwhile are parked on
 * the subscription; history is sent; then the parked events are replayed, and anything at or
 * below the last offset sent is dropped (see Subscription). Because the engine delivers each
 * channel's live events in offset order, the client sees every offset once, in order.
 *
 * Fan-out: one PreparedEvent per event, shared by all subscribers, so each envelope's frame is
 * encoded once per event rather than once per subscriber.
 *
 * Before a publish is answered, `hub.beforeAnswer` (publish-hooks.ts) runs the work the answer
 * waits for: durable sinks store the event's deliveries there.
 *
 * Observers (`hub.listeners`, see hub-listeners.ts): `published` after each successful publish,
 * `channel` when hold() creates a channel's state (occupied) and letGo() removes it (vacated),
 * `presence` when a subscription joins or leaves a presence namespace, `user` when a user goes
 * online or offline (online-users.ts). They never block these paths.
 */

import type { IncomingHttpHeaders } from "node:http";
import { channelProblem, CloseCodes, eventTypeProblem, isChannelPattern, patternProblem, type DeltaFormat, type EventTags, type PatternChannelState, type StreamPosition, type SubscribedFrame } from "@herald/protocol";
import type { Authorizer } from "./authorizer.js";
import { InFlight } from "./in-flight.js";
import type { Engine, EventSender, HistoryQuery, HistoryResult, IdempotencyKey, PresenceEntry, PublishedEvent, StreamEvent } from "../engine/engine.js";
import { HubListeners } from "./hub-listeners.js";
import { OnlineUsers, type OnlineUsersOptions } from "./online-users.js";
import { Receipts } from "./receipts.js";
import { PublishHooks } from "./publish-hooks.js";
import type { ChannelOptions, Namespaces } from "./namespaces.js";
import { PreparedEvent } from "./prepared-event.js";
import type { DeltaSource } from "./event-delta.js";
import type { Session, TransportName } from "./session.js";
import type { HubStats } from "./stats.js";
import { Subscription } from "./subscription.js";
import { PatternIndex } from "./pattern-index.js";
import { PatternSubscription } from "./pattern-subscription.js";
import { checkedTags, compiledFilter } from "./tags.js";
import { HeraldError } from "../shared/herald-error.js";
import { SpanKind, contextFromTraceparent, endSpan, startSpan, traceparentOf, type TraceContext } from "../shared/tracing.js";

interface ChannelState {
  readonly subscribers: Set<Subscription>;
  readonly waiters: Set<() => void>;
  /** Settles once the engine delivers this channel's events to this node. */
  readonly ready: Promise<void>;
  /** The namespace sends deltas: `last` is then the channel's latest event, the next one's delta source. */
  readonly delta: boolean;
  last?: DeltaSource;
}

export interface SubscribeRequest {
  readonly id?: string | number;
  readonly since?: StreamPosition;
  /** A pattern subscribe's positions per matched channel (see subscribePattern). */
  readonly positions?: Readonly<Record<string, StreamPosition>>;
  /** A pattern subscribe's `after` (ISO-8601, checked by the protocol's parser): see attachFound. */
  readonly after?: string;
  readonly token?: string;
  /** Set by a route whose validated parameters grant the channel (the deployment's choice): no authorizer check. */
  readonly granted?: boolean;
  /** Made by a route for its connection: the client may adopt it with a `subscribe` of its own (see adopt). */
  readonly automatic?: boolean;
  /** Events as deltas, where the namespace has `delta: true` and the transport can carry them. */
  readonly delta?: DeltaFormat;
  /** A tag filter (grammar in @herald/protocol's tag-filter.ts): only the events it passes are sent. */
  readonly filter?: string;
}

export interface HubOptions {
  readonly engine: Engine;
  readonly namespaces: Namespaces;
  readonly authorizer: Authorizer;
  readonly stats: HubStats;
  readonly node: string;
  readonly maxSubscriptionsPerConnection: number;
  /** How many channels one pattern subscription may deliver (maxPatternChannels); default 1,000. */
  readonly maxPatternChannels?: number;
  /** Track users online and offline (online-users.ts); off when absent. */
  readonly online?: OnlineUsersOptions;
}

/** A channel a pattern subscribe attached before its answer: where it stands, and the events that follow the answer. */
interface AttachedChannel {
  readonly subscription: Subscription;
  readonly state: PatternChannelState;
  readonly events: StreamEvent[];
}

// History is sent in slices so that a long recovery yields to the event loop and to the socket.
const RECOVERY_SLICE = 500;

export class Hub {
  private readonly channels = new Map<string, ChannelState>();
  /** Open sessions by id (ids are random UUIDs or Pusher socket ids), also for requests that name their connection. */
  private readonly sessionsById = new Map<string, Session>();
  /** Where each route-made subscription not yet adopted by its client started (see adopt). */
  private readonly automaticStarts = new WeakMap<Subscription, StreamPosition>();
  private readonly engine: Engine;
  private readonly namespaces: Namespaces;
  private readonly authorizer: Authorizer;
  private readonly stats: HubStats;
  readonly node: string;
  private readonly maxSubscriptions: number;
  private readonly maxPatternChannels: number;
  private readonly patternIndex = new PatternIndex();
  /** Each session's pattern subscriptions by pattern; they count toward its subscription limit. */
  private readonly patternsOf = new Map<Session, Map<string, PatternSubscription>>();
  /** Publishes not yet answered; a graceful shutdown waits for them (see Herald.close). */
  readonly publishes = new InFlight();
  /** Observers of publishes, channel occupancy and presence (sinks, lazy bridges). */
  readonly listeners = new HubListeners();
  /** Work each publish waits for before it is answered (durable sink deliveries). */
  readonly beforeAnswer = new PublishHooks();
  /** Users online and offline, when tracked; its changes are the `user` listeners'. */
  readonly online: OnlineUsers | undefined;
  /** Acknowledgements and the receipts kept from them, for namespaces with `receipts: true`. */
  readonly receipts: Receipts;

  constructor(options: HubOptions) {
    this.engine = options.engine;
    this.namespaces = options.namespaces;
    this.authorizer = options.authorizer;
    this.stats = options.stats;
    this.node = options.node;
    this.maxSubscriptions = options.maxSubscriptionsPerConnection;
    this.maxPatternChannels = options.maxPatternChannels ?? 1000;
    this.online = options.online && new OnlineUsers(this.engine, this.listeners, options.online);
    this.receipts = new Receipts(this.engine, this.namespaces, this.stats);
  }

  /** Called by the engine for every live event of a channel this node holds. */
  dispatch(event: StreamEvent): void {
    if (this.patternIndex.size > 0) this.offerToPatterns(event);
    const state = this.channels.get(event.channel);
    if (!state) return;
    if (state.subscribers.size > 0) {
      // One span per event and node while tracing is on (event.trace is set only then), never one per socket.
      const span = event.trace === undefined ? undefined : startSpan("herald.fanout", contextFromTraceparent(event.trace), { "herald.channel": event.channel, "herald.node": this.node }, SpanKind.CONSUMER);
      const prepared = new PreparedEvent(event);
      if (state.delta) state.last = prepared.follow(state.last);
      let sent = 0;
      for (const subscription of state.subscribers) if (subscription.offer(event, prepared)) sent += 1;
      this.stats.eventsDelivered += sent;
      if (sent > 0) {
        const figures = this.stats.namespaces.of(event.channel);
        figures.delivered += sent;
        figures.bytesSent += prepared.bytesWritten;
        figures.observeLatency(Math.max(0, Date.now() - event.time) / 1000);
      }
      if (span) {
        span.setAttributes({ "herald.subscribers": sent, "herald.bytes": prepared.bytesWritten });
        endSpan(span);
      }
    }
    if (state.waiters.size > 0) {
      const waiters = [...state.waiters];
      state.waiters.clear();
      for (const wake of waiters) wake();
    }
  }

  /**
   * The engine lost events of `channel` on their way to this node (EngineHandler.onGap): its
   * subscribers here cannot be brought up to date in place. Each connection holding the channel
   * is closed with `resync`, a reconnect code, so the client comes back, resumes with `since`
   * and learns from `recovered: false` that it must reload, instead of missing events unaware.
   * Long-poll waiters are woken: they read history by cursor and see the gap there.
   */
  resync(channel: string): void {
    const state = this.channels.get(channel);
    if (!state) return;
    const reason = `events of ${channel} were lost on this node; reconnect and resume with since`;
    for (const subscription of [...state.subscribers]) subscription.session.close(CloseCodes.resync.code, reason);
    const waiters = [...state.waiters];
    state.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Every open session on this node. */
  get sessions(): IterableIterator<Session> {
    return this.sessionsById.values();
  }

  addSession(session: Session): void {
    this.sessionsById.set(session.id, session);
    this.online?.added(session);
  }

  /** The open session with this id on this node, if any. */
  session(id: string): Session | undefined {
    return this.sessionsById.get(id);
  }

  /** Drops every subscription of a closed session. */
  async removeSession(session: Session): Promise<void> {
    session.closed = true;
    if (this.sessionsById.get(session.id) === session) this.sessionsById.delete(session.id);
    this.online?.removed(session);
    const channels = [...session.subscriptions.keys()];
    const patterns = [...(this.patternsOf.get(session)?.keys() ?? [])];
    await Promise.all([...channels.map((channel) => this.detach(session, channel)), ...patterns.map((pattern) => this.detachPattern(session, pattern))]);
  }

  channelOptions(channel: string): ChannelOptions {
    return this.namespaces.of(channel);
  }

  async authenticate(session: Session, token: string): Promise<void> {
    await this.authorizer.authenticate(session, token);
  }

  /** Identifies a session that brought no token from its request (see Authorizer.authenticateRequest). */
  async authenticateRequest(session: Session, headers: IncomingHttpHeaders): Promise<void> {
    await this.authorizer.authenticateRequest?.(session, headers);
  }

  /** True while a session must authenticate before it may do anything else (auth.required). */
  mustAuthenticate(session: Session): boolean {
    return this.authorizer.mustAuthenticate?.(session) ?? false;
  }

  /** Stops the authorizer's timers; the Herald calls it at shutdown. */
  closeAuthorizer(): void {
    this.authorizer.close?.();
  }

  /**
   * Subscribes a session and sends `subscribed`, then the missed events when `since` is given,
   * then live events. Throws HeraldError when the request is refused (nothing is sent then).
   *
   * A session that closes before or while this runs gets nothing, and whatever was made for it
   * (the channel held, the engine subscription, presence) is undone here, however slow the engine:
   * a transport may go on calling subscribe after its connection went away (e.g. an SSE stream
   * subscribing its channels one by one), and removeSession() only undoes what existed when it ran.
   */
  async subscribe(session: Session, channel: string, request: SubscribeRequest = {}): Promise<void> {
    if (isChannelPattern(channel)) return this.subscribePattern(session, channel, request);
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    // Compiled once, before anything is held: a bad filter refuses the subscribe and leaves nothing behind.
    const filter = request.filter === undefined ? undefined : compiledFilter(request.filter);
    if (session.closed) return;
    const held = session.subscriptions.get(channel);
    if (held) {
      const start = this.automaticStarts.get(held);
      if (start === undefined || held.recovering) throw new HeraldError("already_subscribed", `already subscribed to ${channel}`);
      held.filter = filter;
      return this.adopt(session, held, start, request);
    }
    if (this.subscriptionCount(session) >= this.maxSubscriptions) {
      throw new HeraldError("too_many_subscriptions", `a connection may hold ${this.maxSubscriptions} subscriptions; unsubscribe from one first`);
    }
    const subscription = new Subscription(session, channel);
    subscription.filter = filter;
    // Reserve the name before any await, so two quick subscribes to one channel cannot both pass.
    session.subscriptions.set(channel, subscription);
    // Each await below may outlast the connection: after it, a subscription whose session closed
    // meanwhile undoes itself (abandon) instead of going on.
    const abandon = async (): Promise<void> => {
      if (session.subscriptions.get(channel) === subscription) await this.detach(session, channel);
    };
    const gone = (): boolean => !subscription.active || session.closed;
    try {
      if (!request.granted) await this.authorizer.authorizeSubscribe(session, channel, request.token);
      if (gone()) return await abandon();
      const options = this.namespaces.of(channel);
      const state = this.hold(channel);
      state.subscribers.add(subscription);
      await state.ready;
      if (gone()) return await abandon();
      const since = request.since;
      // A cache namespace answers a subscriber without `since` with its newest retained event,
      // read in the same call as the position so that the two agree.
      const cached = since === undefined && options.cache;
      const history: HistoryResult = since
        ? await this.engine.history(channel, { since: since.offset }, options)
        : cached
          ? await this.engine.history(channel, { limit: 1 }, options)
          : { ...(await this.engine.position(channel, options)), events: [], complete: true };
      if (since && since.epoch === history.epoch && since.offset > history.offset) {
        throw new HeraldError("invalid_since", `since.offset ${since.offset} is ahead of ${channel}'s offset ${history.offset}`);
      }
      if (gone()) return await abandon();
      const recovered = since !== undefined && since.epoch === history.epoch && history.complete;
      if (since !== undefined) {
        const figures = this.stats.namespaces.of(channel);
        if (recovered) figures.recovered += 1;
        else figures.notRecovered += 1;
      }
      const newest = cached ? history.events.find((event) => event.offset === history.offset) : undefined;
      // A filtered subscriber starts from the latest event only when the filter passes it.
      const latest = newest && (filter === undefined || filter(newest.tags)) ? newest : undefined;
      const subscribed: SubscribedFrame = { type: "subscribed", channel, epoch: history.epoch, offset: history.offset, recovered };
      if (options.receipts) subscribed.receipts = true;
      if (cached) subscribed.cache = latest ? "hit" : "miss";
      if (this.grantsDelta(session, subscription, options, request)) subscribed.delta = "fossil";
      session.sendFrame(request.id === undefined ? subscribed : { ...subscribed, id: request.id });
      subscription.epoch = history.epoch;
      subscription.lastOffset = recovered ? since.offset : latest ? latest.offset - 1 : history.offset;
      if (request.automatic) this.automaticStarts.set(subscription, { epoch: history.epoch, offset: subscription.lastOffset });
      if (recovered) await this.replay(subscription, history.events);
      else if (latest) await this.replay(subscription, [latest]);
      if (gone()) return await abandon();
      if (options.presence) {
        await this.engine.addPresence(channel, this.presenceEntry(session));
        if (gone()) {
          // detach() may have removed presence before it was added: take it back out.
          await abandon();
          await this.engine.removePresence(channel, session.id).catch(() => undefined);
          return;
        }
        this.listeners.emit("presence", { channel, connectionId: session.id, user: session.user, joined: true });
      }
      subscription.goLive();
    } catch (error) {
      await abandon();
      throw error;
    }
  }

  /**
   * A client's `subscribe` for a channel its route subscribed it to (an SDK on a route's URL) takes
   * that subscription over instead of being refused: it is answered like a subscribe of its own,
   * from the client's `since`, or else from where the route's subscription started, and the events
   * after that position are sent again in order. The client ignores what the channel delivered
   * before this answer, so nothing is missed or applied twice across a reconnect. Live events wait
   * meanwhile, as during any recovery.
   */
  private async adopt(session: Session, subscription: Subscription, start: StreamPosition, request: SubscribeRequest): Promise<void> {
    this.automaticStarts.delete(subscription);
    const channel = subscription.channel;
    const options = this.namespaces.of(channel);
    const since = request.since ?? start;
    subscription.pending = [];
    try {
      const history = await this.engine.history(channel, { since: since.offset }, options);
      if (since.epoch === history.epoch && since.offset > history.offset) {
        throw new HeraldError("invalid_since", `since.offset ${since.offset} is ahead of ${channel}'s offset ${history.offset}`);
      }
      if (!subscription.active || session.closed) return;
      const continuous = since.epoch === history.epoch && history.complete;
      // Without a `since` of its own the client starts where the route's subscription did.
      const recovered = request.since !== undefined && continuous;
      if (request.since !== undefined) {
        const figures = this.stats.namespaces.of(channel);
        if (recovered) figures.recovered += 1;
        else figures.notRecovered += 1;
      }
      const offset = continuous && request.since === undefined ? since.offset : history.offset;
      const subscribed: SubscribedFrame = { type: "subscribed", channel, epoch: history.epoch, offset, recovered };
      if (options.receipts) subscribed.receipts = true;
      if (this.grantsDelta(session, subscription, options, request)) subscribed.delta = "fossil";
      session.sendFrame(request.id === undefined ? subscribed : { ...subscribed, id: request.id });
      subscription.epoch = history.epoch;
      subscription.lastOffset = continuous ? since.offset : history.offset;
      if (continuous) await this.replay(subscription, history.events);
    } finally {
      if (subscription.active) subscription.goLive();
    }
  }

  /**
   * A subscriber gets deltas when it asks, its namespace allows them and its transport carries
   * them; otherwise `subscribed` leaves `delta` out and every event is full (not an error).
   */
  private grantsDelta(session: Session, subscription: Subscription, options: ChannelOptions, request: SubscribeRequest): boolean {
    subscription.delta = request.delta === "fossil" && options.delta && session.takesDeltas;
    return subscription.delta;
  }

  /** Checks that a session may read a channel (history, polling) as it would to subscribe. */
  async authorizeRead(session: Session, channel: string, token: string | undefined): Promise<void> {
    await this.authorizer.authorizeSubscribe(session, channel, token);
  }

  /** Removes a subscription; throws `not_subscribed` when there is none. */
  async unsubscribe(session: Session, channel: string): Promise<void> {
    if (isChannelPattern(channel)) {
      if (!this.patternsOf.get(session)?.has(channel)) throw new HeraldError("not_subscribed", `not subscribed to ${channel}`);
      return this.detachPattern(session, channel);
    }
    if (!session.subscriptions.has(channel)) throw new HeraldError("not_subscribed", `not subscribed to ${channel}`);
    await this.detach(session, channel);
  }

  /**
   * Publishes from a backend (HTTP API or in-process). With an idempotency key already used, the
   * engine stores nothing and answers the first event (`replayed`); it is not counted or observed again,
   * but the publish hooks run again (idempotently) to finish what a failed first answer left undone.
   * A `sender` connection does not receive the event (see EventSender).
   */
  async publish(channel: string, type: string, data: unknown, idempotency?: IdempotencyKey, sender?: EventSender, trace?: TraceContext, tags?: EventTags): Promise<PublishedEvent> {
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    const typeProblem = eventTypeProblem(type);
    if (typeProblem) throw new HeraldError(typeProblem.code, typeProblem.message);
    const checked = checkedTags(tags);
    // While tracing is on, the append is a span of the publisher's trace, and its context travels with the event.
    const span = startSpan("herald.engine.append", trace, { "herald.channel": channel, "herald.event.type": type, "herald.engine": this.engine.name }, SpanKind.PRODUCER);
    let event: PublishedEvent;
    try {
      event = await this.publishes.track(this.engine.publish(channel, type, data === undefined ? null : data, this.namespaces.of(channel), idempotency, sender, traceparentOf(span), checked));
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
    if (span) {
      span.setAttributes({ "herald.epoch": event.epoch, "herald.offset": event.offset, "herald.replayed": event.replayed });
      endSpan(span);
    }
    const hooked = this.beforeAnswer.run(event);
    if (hooked) await this.publishes.track(hooked);
    if (event.replayed) return event;
    this.stats.eventsPublished += 1;
    this.stats.namespaces.of(channel).published += 1;
    this.listeners.emit("published", event);
    return event;
  }

  /** Publishes on behalf of a client connection, where its namespace allows it. */
  async publishFromClient(session: Session, channel: string, type: string, data: unknown, tags?: EventTags): Promise<PublishedEvent> {
    const options = this.namespaces.of(channel);
    if (!options.clientPublish) {
      throw new HeraldError("publish_forbidden", `clients may not publish to namespace "${options.namespace}"; publish through POST /api/publish`);
    }
    await this.authorizer.authorizePublish(session, channel);
    return this.publish(channel, type, data, undefined, undefined, undefined, tags);
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    return this.engine.history(channel, query, this.namespaces.of(channel));
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const problem = channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", problem);
    return this.engine.presence(channel);
  }

  /**
   * Resolves when an event arrives on any of the channels, or after `timeoutMs`, or on abort.
   * `ready` resolves once the engine delivers those channels here, so a caller can read history
   * after it and know that nothing published later is missed.
   */
  watch(
    channels: readonly string[],
    patterns: readonly string[] = [],
  ): { ready: Promise<void>; next: (timeoutMs: number, signal?: AbortSignal) => Promise<void>; release: () => void; discovered: ReadonlySet<string> } {
    const states = channels.map((channel) => [channel, this.hold(channel)] as const);
    let woken = false;
    const wake = (): void => {
      woken = true;
    };
    for (const [, state] of states) state.waiters.add(wake);
    // A pattern wakes the poll for an event of any matching channel it does not name yet.
    const discovered = new Set<string>();
    const patternWaiters = new Set<() => void>([wake]);
    const known = new Set(channels);
    const watchers = patterns.map(
      (pattern) =>
        new PatternSubscription(undefined, pattern, undefined, (channel) => {
          if (known.has(channel)) return;
          discovered.add(channel);
          for (const waiter of [...patternWaiters]) waiter();
        }),
    );
    for (const watcher of watchers) this.patternIndex.add(watcher);
    const listening = patterns.length === 0 ? [] : this.engine.listenPattern ? patterns.map((pattern) => this.engine.listenPattern!(pattern)) : [Promise.reject(new HeraldError("patterns_unsupported", `this hub's engine (${this.engine.name}) cannot deliver pattern subscriptions; poll channels by name`))];
    const settled = listening.map((listen) => listen.then(() => true, () => false));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const [channel, state] of states) {
        state.waiters.delete(wake);
        this.letGo(channel, state);
      }
      for (const watcher of watchers) this.patternIndex.delete(watcher);
      patternWaiters.clear();
      // Each listen that succeeded has its unlisten, whenever it settles.
      settled.forEach((listen, index) => {
        void listen.then((ok) => {
          if (ok) void this.engine.unlistenPattern?.(patterns[index]!).catch(() => undefined);
        });
      });
    };
    // Each call waits for what came after the previous one: a caller may wait again (and read again).
    const rearm = (): void => {
      woken = false;
      if (!released) for (const [, state] of states) state.waiters.add(wake);
    };
    const next = (timeoutMs: number, signal?: AbortSignal): Promise<void> =>
      new Promise<void>((resolve) => {
        if (woken || released || signal?.aborted) {
          rearm();
          return resolve();
        }
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          for (const [, state] of states) state.waiters.delete(done);
          patternWaiters.delete(done);
          rearm();
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal?.addEventListener("abort", done, { once: true });
        for (const [, state] of states) state.waiters.add(done);
        if (!released) patternWaiters.add(done);
      });
    return { ready: Promise.all([...states.map(([, state]) => state.ready), ...listening]).then(() => undefined), next, release, discovered };
  }

  counts(): { connections: number; subscriptions: number; channels: number; users: number; byTransport: Record<TransportName, number> } {
    const byTransport: Record<TransportName, number> = { websocket: 0, sse: 0, polling: 0 };
    let subscriptions = 0;
    for (const session of this.sessions) {
      byTransport[session.transport] += 1;
      subscriptions += session.subscriptions.size;
    }
    return { connections: this.sessionsById.size, subscriptions, channels: this.channels.size, users: this.users().size, byTransport };
  }

  /** The distinct users connected to this node. */
  users(): Set<string> {
    const users = new Set<string>();
    for (const session of this.sessions) if (session.user !== undefined) users.add(session.user);
    return users;
  }

  /** The channels this node holds. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Channels this node holds, with their local subscriber counts. */
  channelList(): Array<{ channel: string; subscribers: number }> {
    return [...this.channels].map(([channel, state]) => ({ channel, subscribers: state.subscribers.size }));
  }

  private async replay(subscription: Subscription, events: StreamEvent[]): Promise<void> {
    const session = subscription.session;
    for (let i = 0; i < events.length; i++) {
      if (!subscription.active) return;
      const event = events[i]!;
      if (event.offset <= subscription.lastOffset) continue;
      subscription.lastOffset = event.offset;
      if (!subscription.wants(event)) continue;
      const prepared = new PreparedEvent(event);
      session.deliver(prepared, subscription);
      this.stats.eventsDelivered += 1;
      const figures = this.stats.namespaces.of(event.channel);
      figures.delivered += 1;
      figures.bytesSent += prepared.bytesWritten;
      if (i % RECOVERY_SLICE === RECOVERY_SLICE - 1 || session.congested) await session.drained();
    }
  }

  private presenceEntry(session: Session): PresenceEntry {
    const entry = { connectionId: session.id, transport: session.transport, node: this.node, connectedAt: session.connectedAt };
    return session.user === undefined ? entry : { ...entry, user: session.user };
  }

  private hold(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      const created: ChannelState = { subscribers: new Set(), waiters: new Set(), ready: this.engine.subscribe(channel), delta: this.namespaces.of(channel).delta };
      // A failed engine subscribe surfaces to whoever awaits `ready` (each of them lets go). The
      // state must not outlive it: a later subscriber asks the engine again instead of inheriting
      // the failure, and the engine, which counted nothing for a failed subscribe, gets no unsubscribe.
      created.ready.catch(() => {
        if (this.channels.get(channel) !== created) return;
        this.channels.delete(channel);
        this.listeners.emit("channel", { channel, occupied: false });
      });
      this.channels.set(channel, created);
      this.listeners.emit("channel", { channel, occupied: true });
      state = created;
    }
    return state;
  }

  private letGo(channel: string, state: ChannelState): void {
    if (state.subscribers.size > 0 || state.waiters.size > 0 || this.channels.get(channel) !== state) return;
    this.channels.delete(channel);
    this.listeners.emit("channel", { channel, occupied: false });
    void state.ready.then(
      () => this.engine.unsubscribe(channel),
      () => undefined,
    ).catch(() => undefined);
  }

  private async detach(session: Session, channel: string): Promise<void> {
    const subscription = session.subscriptions.get(channel);
    if (!subscription) return;
    subscription.active = false;
    session.subscriptions.delete(channel);
    const state = this.channels.get(channel);
    if (!state) return;
    state.subscribers.delete(subscription);
    this.letGo(channel, state);
    if (this.namespaces.of(channel).presence) {
      await this.engine.removePresence(channel, session.id).catch(() => undefined);
      this.listeners.emit("presence", { channel, connectionId: session.id, user: session.user, joined: false });
    }
  }

  // ---- pattern subscriptions ------------------------------------------------------------------

  /**
   * Subscribes a session to a pattern: `subscribed` names the pattern and, for each channel of
   * `positions` the session may read, where it stands and whether it recovered; the missed events of
   * those follow, then live events of every matching channel the session may read, each channel
   * checked once, when its first event arrives (attachMatched). With `after` (the `time` of the
   * client's previous `subscribed`), the channels published since then and not listed are found and
   * delivered from then on too (attachFound), so a channel that started matching while the client
   * was away is not missed.
   */
  private async subscribePattern(session: Session, pattern: string, request: SubscribeRequest): Promise<void> {
    const problem = patternProblem(pattern);
    if (problem) throw new HeraldError(problem.code, problem.message);
    if (!this.engine.listenPattern) throw new HeraldError("patterns_unsupported", `this hub's engine (${this.engine.name}) cannot deliver pattern subscriptions; subscribe to channels by name`);
    if (session.closed) return;
    let patterns = this.patternsOf.get(session);
    if (patterns?.has(pattern)) throw new HeraldError("already_subscribed", `already subscribed to ${pattern}`);
    if (this.subscriptionCount(session) >= this.maxSubscriptions) {
      throw new HeraldError("too_many_subscriptions", `a connection may hold ${this.maxSubscriptions} subscriptions; unsubscribe from one first`);
    }
    // Taken before the pattern is listened to: what is published from then on reaches it live or through `after` next time.
    const startedAt = Date.now();
    const after = request.after === undefined ? undefined : Date.parse(request.after);
    if (after !== undefined && !Number.isFinite(after)) throw new HeraldError("invalid_since", `after must be an ISO-8601 time such as "2026-12-04T17:40:00.120Z"`);
    const listed = Object.entries(request.positions ?? {});
    if (listed.length > this.maxPatternChannels) {
      throw new HeraldError("pattern_channel_limit", `positions lists ${listed.length} channels; one pattern subscription spans at most ${this.maxPatternChannels} (maxPatternChannels)`);
    }
    // Compiled once, before anything is held: a bad filter refuses the subscribe.
    const filter = request.filter === undefined ? undefined : compiledFilter(request.filter);
    // A pattern names its namespace (patternProblem), so the namespace's delta option holds for every channel it matches.
    const delta = request.delta === "fossil" && this.namespaces.of(pattern).delta && session.takesDeltas;
    const subscription = new PatternSubscription(session, pattern, request.token, undefined, filter, delta);
    // Listed channels wait for their own recovery: events that arrive meanwhile are kept, not attached twice.
    for (const [channel] of listed) subscription.channels.set(channel, { state: "checking", seen: [] });
    subscription.after = after;
    if (!patterns) this.patternsOf.set(session, (patterns = new Map()));
    patterns.set(pattern, subscription);
    this.patternIndex.add(subscription);
    const gone = (): boolean => !subscription.active || session.closed;
    let listening = false;
    try {
      await this.engine.listenPattern(pattern);
      listening = true;
      if (gone()) return;
      const attached = await Promise.all(listed.map(([channel, since]) => this.attachListed(subscription, channel, since)));
      if (gone()) return;
      const found = after === undefined ? undefined : await this.attachFound(subscription, after);
      if (gone()) return;
      const channels: Record<string, PatternChannelState> = {};
      for (const result of [...attached, ...(found?.attached ?? [])]) if (result) channels[result.subscription.channel] = result.state;
      const recovered =
        (listed.length > 0 || found !== undefined) &&
        attached.every((result) => result?.state.recovered === true) &&
        // A found channel the session may not read is left out, also of this answer.
        (found === undefined || (found.complete && found.attached.every((result) => result === undefined || result.state.recovered)));
      const subscribed: SubscribedFrame = { type: "subscribed", channel: pattern, epoch: "", offset: 0, recovered, channels, time: new Date(startedAt).toISOString() };
      if (delta) subscribed.delta = "fossil";
      session.sendFrame(request.id === undefined ? subscribed : { ...subscribed, id: request.id });
      for (const result of [...attached, ...(found?.attached ?? [])]) {
        if (!result || gone()) continue;
        await this.replay(result.subscription, result.events);
        if (result.subscription.active) result.subscription.goLive();
      }
    } catch (error) {
      if (!listening) {
        this.patternIndex.delete(subscription);
        if (patterns.get(pattern) === subscription) patterns.delete(pattern);
        if (patterns.size === 0) this.patternsOf.delete(session);
      } else if (patterns.get(pattern) === subscription) {
        await this.detachPattern(session, pattern);
      }
      throw error;
    } finally {
      // The session may have closed while this ran; removeSession saw no pattern to undo then.
      if (listening && gone() && patterns.get(pattern) === subscription) await this.detachPattern(session, pattern);
    }
  }

  /**
   * A channel listed in a pattern subscribe's positions: recovered from its position exactly as a
   * single-channel subscribe with `since`; undefined when the session may not read it.
   */
  private async attachListed(pattern: PatternSubscription, channel: string, since: StreamPosition): Promise<AttachedChannel | undefined> {
    const seen = pattern.channels.get(channel);
    const subscription = await this.attachChannel(pattern, channel);
    if (!subscription) return undefined;
    const history = await this.engine.history(channel, { since: since.offset }, this.namespaces.of(channel));
    if (since.epoch === history.epoch && since.offset > history.offset) {
      throw new HeraldError("invalid_since", `positions["${channel}"].offset ${since.offset} is ahead of ${channel}'s offset ${history.offset}`);
    }
    const recovered = since.epoch === history.epoch && history.complete;
    const figures = this.stats.namespaces.of(channel);
    if (recovered) figures.recovered += 1;
    else figures.notRecovered += 1;
    subscription.epoch = history.epoch;
    subscription.lastOffset = recovered ? since.offset : history.offset;
    const early = seen?.state === "checking" ? seen.seen.filter((event) => event.epoch === history.epoch) : [];
    const events = recovered ? [...history.events, ...early] : early;
    return { subscription, state: { epoch: history.epoch, offset: history.offset, recovered }, events };
  }

  /**
   * The channels that started matching while the client was away: those the engine's index says
   * were published to at or after `after` and that the subscribe did not list. Each the session may
   * read (asked as for a live match, a refused one left out without a trace) is delivered from its
   * first event at or after `after`, as a channel that starts matching is. `complete` is false when
   * `after` is older than the index and history keep (the namespace's history TTL): channels or
   * events may be missing then, and the client is told so with `recovered: false`.
   */
  private async attachFound(pattern: PatternSubscription, after: number): Promise<{ attached: Array<AttachedChannel | undefined>; complete: boolean }> {
    const options = this.namespaces.of(pattern.pattern);
    // An engine without the index cannot say which channels it missed: the client is told so.
    const published = this.engine.channelsPublishedSince ? await this.engine.channelsPublishedSince(pattern.pattern, after) : undefined;
    // From here on, a channel's first live event comes after the index was read: live delivery covers it.
    pattern.after = undefined;
    if (published === undefined) return { attached: [], complete: false };
    let fresh = published.filter((channel) => !pattern.channels.has(channel));
    const room = Math.max(0, this.maxPatternChannels - pattern.channels.size);
    if (fresh.length > room) {
      fresh = fresh.slice(0, room);
      this.reportChannelLimit(pattern, published.find((channel) => !fresh.includes(channel) && !pattern.channels.has(channel))!);
    }
    for (const channel of fresh) pattern.channels.set(channel, { state: "checking", seen: [] });
    const attached = await Promise.all(
      fresh.map(async (channel): Promise<AttachedChannel | undefined> => {
        const entry = pattern.channels.get(channel);
        const seen = entry?.state === "checking" ? entry.seen : [];
        const subscription = await this.attachChannel(pattern, channel);
        if (!subscription) return undefined;
        const found = await this.eventsAfter(channel, after, seen[0]);
        subscription.epoch = found.epoch;
        subscription.lastOffset = found.lastOffset;
        const figures = this.stats.namespaces.of(channel);
        if (found.complete) figures.recovered += 1;
        else figures.notRecovered += 1;
        return { subscription, state: { epoch: found.epoch, offset: found.lastOffset, recovered: found.complete }, events: [...found.events, ...seen.filter((event) => event.epoch === found.epoch)] };
      }),
    );
    const complete = options.historySize > 0 && after >= Date.now() - options.historyTtlMs;
    return { attached, complete };
  }

  /**
   * For a poll whose cursor holds a pattern's time: the channels matching `pattern` that got events
   * at or after `after` (ms), at most `limit` of them, each with the position just before its first
   * such event, where the poll reads it from. Permission is the caller's to ask, per channel.
   */
  async channelsStartedSince(pattern: string, after: number, limit: number): Promise<Record<string, StreamPosition>> {
    if (!this.engine.channelsPublishedSince) return {};
    const channels = (await this.engine.channelsPublishedSince(pattern, after)).slice(0, limit);
    const found = await Promise.all(channels.map((channel) => this.eventsAfter(channel, after, undefined)));
    return Object.fromEntries(channels.map((channel, index) => [channel, { epoch: found[index]!.epoch, offset: found[index]!.lastOffset }]));
  }

  /**
   * A channel's retained events at or after `after` (ms), in the epoch of `first` (its first event
   * seen live, if any); `lastOffset` is the offset just before the first of them, where its
   * delivery starts. `complete` when history surely holds every event since `after`: it keeps an
   * older one, or the stream's first, or fewer than it may keep, and `after` is within its TTL.
   */
  private async eventsAfter(channel: string, after: number, first: StreamEvent | undefined): Promise<{ epoch: string; lastOffset: number; events: StreamEvent[]; complete: boolean }> {
    const options = this.namespaces.of(channel);
    const history = await this.engine.history(channel, {}, options);
    const epoch = first?.epoch ?? history.epoch;
    const events = history.epoch === epoch ? history.events.filter((event) => event.time >= after) : [];
    const start = events[0]?.offset ?? first?.offset ?? history.offset + 1;
    const oldest = history.events[0];
    const whole = oldest === undefined || oldest.time < after || oldest.offset === 1 || history.events.length < options.historySize;
    const complete = history.epoch === epoch && options.historySize > 0 && after >= Date.now() - options.historyTtlMs && whole;
    return { epoch, lastOffset: start - 1, events, complete };
  }

  /**
   * Decides whether a pattern's session may read `channel` (the authorizer, with the subscribe's
   * token, as for a subscribe by name), keeps the answer, and when it may, holds the channel and
   * adds a Subscription for it, still recovering (live events park on it). Undefined when refused,
   * whatever the reason, a backend that did not answer included: the channel is left out.
   */
  private async attachChannel(pattern: PatternSubscription, channel: string): Promise<Subscription | undefined> {
    const session = pattern.session as Session;
    try {
      await this.authorizer.authorizeSubscribe(session, channel, pattern.token);
    } catch {
      if (pattern.active) pattern.channels.set(channel, { state: "refused" });
      return undefined;
    }
    if (!pattern.active || session.closed) return undefined;
    const subscription = new Subscription(session, channel);
    subscription.filter = pattern.filter;
    subscription.delta = pattern.delta;
    const state = this.hold(channel);
    state.subscribers.add(subscription);
    pattern.channels.set(channel, { state: "attached", subscription });
    await state.ready;
    return subscription;
  }

  /** Starts delivering a matching channel the first time one of its events reaches a pattern. */
  private offerToPatterns(event: StreamEvent): void {
    for (const pattern of this.patternIndex.matching(event.channel)) {
      if (pattern.notify) {
        pattern.notify(event.channel);
        continue;
      }
      const entry = pattern.channels.get(event.channel);
      if (entry?.state === "checking") entry.seen.push(event);
      if (entry !== undefined) continue;
      if (pattern.channels.size >= this.maxPatternChannels) {
        this.reportChannelLimit(pattern, event.channel);
        continue;
      }
      const seen = [event];
      pattern.channels.set(event.channel, { state: "checking", seen });
      void this.attachMatched(pattern, event.channel, seen, pattern.after).catch(() => this.releaseChannel(pattern, event.channel));
    }
  }

  /** Tells the session once that its pattern delivers no more channels, `channel` being one left out. */
  private reportChannelLimit(pattern: PatternSubscription, channel: string): void {
    if (pattern.limitReported) return;
    pattern.limitReported = true;
    const message = `${pattern.pattern} reached ${this.maxPatternChannels} channels (maxPatternChannels); events of further channels, such as ${channel}, are not delivered to it`;
    // No `channel`: that would name a refused subscription, and this one goes on with the channels it has.
    (pattern.session as Session).sendFrame({ type: "error", code: "pattern_channel_limit", message });
  }

  /**
   * A channel that started matching: delivered from its first event that reached the pattern, live
   * from then on. History fills what arrived while permission was being decided; where history keeps
   * nothing, the events the pattern saw meanwhile stand in for it.
   */
  private async attachMatched(pattern: PatternSubscription, channel: string, seen: StreamEvent[], after: number | undefined): Promise<void> {
    const subscription = await this.attachChannel(pattern, channel);
    if (!subscription) return;
    const first = seen[0]!;
    if (after !== undefined) {
      // It started matching while a subscribe with `after` looked for the channels published since then.
      const found = await this.eventsAfter(channel, after, first);
      if (!subscription.active) return;
      subscription.epoch = found.epoch;
      subscription.lastOffset = found.lastOffset;
      await this.replay(subscription, [...found.events, ...seen.filter((event) => event.epoch === found.epoch)]);
      if (subscription.active) subscription.goLive();
      return;
    }
    const history = await this.engine.history(channel, { since: first.offset - 1 }, this.namespaces.of(channel));
    if (!subscription.active) return;
    subscription.epoch = first.epoch;
    subscription.lastOffset = first.offset - 1;
    const complete = history.epoch === first.epoch && history.complete;
    await this.replay(subscription, complete ? [...history.events, ...seen] : seen);
    if (subscription.active) subscription.goLive();
  }

  /** Stops delivering one channel of a pattern (it failed to attach) and forgets it, so its next event tries again. */
  private releaseChannel(pattern: PatternSubscription, channel: string): void {
    const entry = pattern.channels.get(channel);
    if (entry === undefined) return;
    pattern.channels.delete(channel);
    if (entry.state === "attached") this.dropSubscription(entry.subscription);
  }

  private async detachPattern(session: Session, pattern: string): Promise<void> {
    const patterns = this.patternsOf.get(session);
    const subscription = patterns?.get(pattern);
    if (!patterns || !subscription) return;
    subscription.active = false;
    patterns.delete(pattern);
    if (patterns.size === 0) this.patternsOf.delete(session);
    this.patternIndex.delete(subscription);
    for (const channel of subscription.attached()) this.dropSubscription(channel);
    subscription.channels.clear();
    await this.engine.unlistenPattern?.(pattern).catch(() => undefined);
  }

  private dropSubscription(subscription: Subscription): void {
    subscription.active = false;
    const state = this.channels.get(subscription.channel);
    if (!state) return;
    state.subscribers.delete(subscription);
    this.letGo(subscription.channel, state);
  }

  /** A session's subscriptions by name and by pattern. */
  private subscriptionCount(session: Session): number {
    return session.subscriptions.size + (this.patternsOf.get(session)?.size ?? 0);
  }
}
