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
import { channelProblem, CloseCodes, eventTypeProblem, type EventTags, type StreamPosition, type SubscribedFrame } from "@herald/protocol";
import type { Authorizer } from "./authorizer.js";
import { InFlight } from "./in-flight.js";
import type { Engine, EventSender, HistoryQuery, HistoryResult, IdempotencyKey, PresenceEntry, PublishedEvent, StreamEvent } from "../engine/engine.js";
import { HubListeners } from "./hub-listeners.js";
import { OnlineUsers, type OnlineUsersOptions } from "./online-users.js";
import { Receipts } from "./receipts.js";
import { PublishHooks } from "./publish-hooks.js";
import type { ChannelOptions, Namespaces } from "./namespaces.js";
import { PreparedEvent } from "./prepared-event.js";
import type { Session, TransportName } from "./session.js";
import type { HubStats } from "./stats.js";
import { Subscription } from "./subscription.js";
import { checkedTags, compiledFilter } from "./tags.js";
import { HeraldError } from "../shared/herald-error.js";
import { SpanKind, contextFromTraceparent, endSpan, startSpan, traceparentOf, type TraceContext } from "../shared/tracing.js";

interface ChannelState {
  readonly subscribers: Set<Subscription>;
  readonly waiters: Set<() => void>;
  /** Settles once the engine delivers this channel's events to this node. */
  readonly ready: Promise<void>;
}

export interface SubscribeRequest {
  readonly id?: string | number;
  readonly since?: StreamPosition;
  readonly token?: string;
  /** Set by a route whose validated parameters grant the channel (the deployment's choice): no authorizer check. */
  readonly granted?: boolean;
  /** Made by a route for its connection: the client may adopt it with a `subscribe` of its own (see adopt). */
  readonly automatic?: boolean;
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
  /** Track users online and offline (online-users.ts); off when absent. */
  readonly online?: OnlineUsersOptions;
}

// History is sent in slices so that a long recovery yields to the event loop and to the socket.
const RECOVERY_SLICE = 500;

export class Hub {
  private readonly channels = new Map<string, ChannelState>();
  readonly sessions = new Set<Session>();
  /** The same sessions by id, for requests that name their connection (an SSE client's acknowledgements). */
  private readonly sessionsById = new Map<string, Session>();
  /** Where each route-made subscription not yet adopted by its client started (see adopt). */
  private readonly automaticStarts = new WeakMap<Subscription, StreamPosition>();
  private readonly engine: Engine;
  private readonly namespaces: Namespaces;
  private readonly authorizer: Authorizer;
  private readonly stats: HubStats;
  readonly node: string;
  private readonly maxSubscriptions: number;
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
    this.online = options.online && new OnlineUsers(this.engine, this.listeners, options.online);
    this.receipts = new Receipts(this.engine, this.namespaces, this.stats);
  }

  /** Called by the engine for every live event of a channel this node holds. */
  dispatch(event: StreamEvent): void {
    const state = this.channels.get(event.channel);
    if (!state) return;
    if (state.subscribers.size > 0) {
      // One span per event and node while tracing is on (event.trace is set only then), never one per socket.
      const span = event.trace === undefined ? undefined : startSpan("herald.fanout", contextFromTraceparent(event.trace), { "herald.channel": event.channel, "herald.node": this.node }, SpanKind.CONSUMER);
      const prepared = new PreparedEvent(event);
      let sent = 0;
      for (const subscription of state.subscribers) if (subscription.offer(event, prepared)) sent += 1;
      this.stats.eventsDelivered += sent;
      if (sent > 0) {
        const figures = this.stats.namespaces.of(event.channel);
        figures.delivered += sent;
        figures.bytesSent += sent * prepared.bytes("herald").length;
        figures.observeLatency(Math.max(0, Date.now() - event.time) / 1000);
      }
      if (span) {
        span.setAttributes({ "herald.subscribers": sent, "herald.bytes": sent * prepared.bytes("herald").length });
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

  addSession(session: Session): void {
    this.sessions.add(session);
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
    this.sessions.delete(session);
    if (this.sessionsById.get(session.id) === session) this.sessionsById.delete(session.id);
    this.online?.removed(session);
    const channels = [...session.subscriptions.keys()];
    await Promise.all(channels.map((channel) => this.detach(session, channel)));
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
    if (session.subscriptions.size >= this.maxSubscriptions) {
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
      session.sendFrame(request.id === undefined ? subscribed : { ...subscribed, id: request.id });
      subscription.epoch = history.epoch;
      subscription.lastOffset = continuous ? since.offset : history.offset;
      if (continuous) await this.replay(subscription, history.events);
    } finally {
      if (subscription.active) subscription.goLive();
    }
  }

  /** Checks that a session may read a channel (history, polling) as it would to subscribe. */
  async authorizeRead(session: Session, channel: string, token: string | undefined): Promise<void> {
    await this.authorizer.authorizeSubscribe(session, channel, token);
  }

  /** Removes a subscription; throws `not_subscribed` when there is none. */
  async unsubscribe(session: Session, channel: string): Promise<void> {
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
  watch(channels: readonly string[]): { ready: Promise<void>; next: (timeoutMs: number, signal?: AbortSignal) => Promise<void>; release: () => void } {
    const states = channels.map((channel) => [channel, this.hold(channel)] as const);
    let woken = false;
    const wake = (): void => {
      woken = true;
    };
    for (const [, state] of states) state.waiters.add(wake);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const [channel, state] of states) {
        state.waiters.delete(wake);
        this.letGo(channel, state);
      }
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
          rearm();
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal?.addEventListener("abort", done, { once: true });
        for (const [, state] of states) state.waiters.add(done);
      });
    return { ready: Promise.all(states.map(([, state]) => state.ready)).then(() => undefined), next, release };
  }

  counts(): { connections: number; subscriptions: number; channels: number; users: number; byTransport: Record<TransportName, number> } {
    const byTransport: Record<TransportName, number> = { websocket: 0, sse: 0, polling: 0 };
    let subscriptions = 0;
    for (const session of this.sessions) {
      byTransport[session.transport] += 1;
      subscriptions += session.subscriptions.size;
    }
    return { connections: this.sessions.size, subscriptions, channels: this.channels.size, users: this.users().size, byTransport };
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
      figures.bytesSent += prepared.bytes("herald").length;
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
      const created: ChannelState = { subscribers: new Set(), waiters: new Set(), ready: this.engine.subscribe(channel) };
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
}
