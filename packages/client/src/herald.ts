/**
 * The Herald client: one connection to a Herald, carried by WebSocket, SSE or polling, that
 * reconnects by itself and recovers what it missed.
 *
 * Connection states (every change goes through `setState`, which emits
 * `{newState, oldState, reason, …}` on `state`):
 *
 *   disconnected ──connect()──▶ connecting ──connected frame──▶ connected
 *        ▲                          │                              │ transport lost, heartbeat
 *        │ disconnect()             ▼                              ▼ timeout
 *        └──────────────────── reconnecting(attempt, nextDelay) ◀──┘
 *                                   │ close code that says "stop", or maxAttempts reached
 *                                   ▼
 *                                 failed
 *
 * Lifecycle of one attempt: fetch the token (getToken), open the transport, wait for `connected`,
 * then (WebSocket) send `auth` and one `subscribe` per channel with `since` set to the last
 * delivered position; stream transports carry the channels and a cursor in their URL instead.
 * Transport fallback: after `fallbackAfter` consecutive attempts on which a transport never
 * opened, the next transport in `transports` is used, until `disconnect()`.
 */

import {
  DEFAULT_BACKOFF,
  backoffDelay,
  channelProblem,
  closeAction,
  closeCodeOfError,
  isRetryable,
  type BackoffOptions,
  type ClientFrame,
  type EventFrame,
  type PublishedFrame,
  type StreamPosition,
  type SubscribedFrame,
  type UnsubscribedFrame,
} from "@herald/protocol";
import { Emitter } from "./emitter.js";
import { Receipts } from "./receipts.js";
import { HeraldError } from "./errors.js";
import type { DeltaDecoder } from "./delta.js";
import type { GetState, StateSync } from "./state-sync.js";
import { ChannelState, Subscription, type ChannelView, type EventMap, type SubscribeOptions } from "./subscription.js";
import { PollingTransport } from "./transports/polling.js";
import { SseTransport } from "./transports/sse.js";
import {
  ABNORMAL_CLOSURE,
  type IncomingFrame,
  type Transport,
  type TransportCallbacks,
  type TransportContext,
  type TransportName,
  type WebSocketConstructor,
} from "./transports/transport.js";
import { WebSocketTransport } from "./transports/websocket.js";
import type { WireCodec } from "./wire-codec.js";

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting" | "failed";

/** Why the state changed. */
export type StateReason =
  /** connect() was called. */
  | "connect"
  /** disconnect() was called. */
  | "disconnect"
  /** The server greeted the connection with `connected`. */
  | "transport_open"
  /** The transport closed or failed to open. */
  | "transport_closed"
  /** Nothing came from the server for pingInterval + heartbeatGrace. */
  | "heartbeat_timeout"
  /** getToken() failed. */
  | "token_failed"
  /** The browser came back online: retrying at once. */
  | "online"
  /** The server closed with a code that says reconnecting cannot help (1000, 4500-4999). */
  | "server_closed"
  /** reconnect.maxAttempts attempts failed in a row. */
  | "max_attempts";

export interface StateChange {
  newState: ConnectionState;
  oldState: ConnectionState;
  reason: StateReason;
  /** Failed attempts in a row (reset after a stable connection). */
  attempt: number;
  maxAttempts: number;
  /** Milliseconds until the next attempt (state reconnecting), else 0. */
  nextDelay: number;
  /** The transport in use or being tried. */
  transport: TransportName;
  /** The close code and reason, when the state changed because the transport closed. */
  code?: number;
  message?: string;
}

export interface HeraldErrorContext {
  code: string;
  message: string;
}

/** The server subscribed this connection to a channel (server API); `herald.subscribe(channel)` gives a handle on it. */
export interface ServerSubscribedContext {
  channel: string;
}

export interface HeraldEvents {
  state: StateChange;
  /** An error frame that belongs to no request (e.g. a refused `auth`). */
  error: HeraldErrorContext;
  /**
   * The server subscribed this connection to a channel it had not asked for (server API). The
   * client holds it like its own subscriptions (resumed with `since` after a reconnect, where the
   * namespace's rules must then allow it); take a handle with `herald.subscribe(channel)`.
   */
  server_subscribed: ServerSubscribedContext;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Attempts in a row before giving up (state failed). Default Infinity. */
  maxAttempts: number;
  /** A connection that lasts this long (ms) resets the attempt count. Default 5 000. */
  stableAfter: number;
}

export interface HeraldOptions {
  /** Base URL of the Herald: `https://rt.example.com` (or `wss://…`, same thing). */
  url: string;
  /** A static token (JWT or whatever the server's authorizer takes). */
  token?: string;
  /** Called before each connection and when the server says `token_expired`. Wins over `token`. */
  getToken?: () => string | Promise<string>;
  /** Transports in order of preference. Default `['websocket', 'sse', 'polling']`. */
  transports?: TransportName[];
  /** Attempts on which a transport never opened before moving to the next one. Default 2. */
  fallbackAfter?: number;
  reconnect?: Partial<ReconnectOptions>;
  /** Slack (ms) after the server's pingInterval before a silent connection counts as dead. Default 10 000. */
  heartbeatGrace?: number;
  /** How long a long-poll waits for events, ms. Default 25 000. */
  pollTimeout?: number;
  /** Path of the WebSocket endpoint. Default `/ws`. */
  wsPath?: string;
  /** WebSocket implementation; default `globalThis.WebSocket`. In Node 20 pass the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /**
   * How WebSocket frames are encoded. Default `"json"` (text frames). For MessagePack pass the
   * codec from its own entry, `import { msgpack } from "@herald/client/msgpack"` and
   * `format: msgpack`, so that clients without it never ship it. SSE and polling speak JSON
   * whatever this says. A client with a codec keeps its own connection (no tab sharing).
   */
  format?: "json" | WireCodec;
  /** fetch implementation; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * Share one connection between the tabs of this origin whose clients have the same `url`,
   * `wsPath` and static `token` (browser pages only; elsewhere every client has its own). Default
   * true. See the README's "One connection per browser".
   */
  share?: boolean;
  /**
   * URL of the sharing worker script (`@herald/client/share-worker`, emitted by your bundler): with
   * it the connection lives in a SharedWorker; without it, or where SharedWorker is missing, in one
   * of the tabs, chosen with Web Locks.
   */
  shareWorker?: string | URL;
  /**
   * Ask for events as deltas (`delta: "fossil"`) on WebSocket and SSE, where the channel's namespace sends
   * them; handlers still get full data. Default true.
   */
  delta?: boolean;
}

export interface HistoryOptions {
  /** Events after this offset. */
  since?: number;
  limit?: number;
}

export interface HistoryResult<T = unknown> {
  channel: string;
  epoch: string;
  offset: number;
  complete: boolean;
  events: EventFrame<T>[];
}

export interface PresenceResult {
  channel: string;
  count: number;
  users: number;
  clients: Array<Record<string, unknown>>;
}

interface Pending {
  resolve(frame: IncomingFrame): void;
  reject(error: HeraldError): void;
}

const TRANSPORTS: Record<TransportName, new (context: TransportContext, callbacks: TransportCallbacks) => Transport> = {
  websocket: WebSocketTransport,
  sse: SseTransport,
  polling: PollingTransport,
};

export class Herald {
  private readonly emitter = new Emitter<HeraldEvents>();
  private readonly options: HeraldOptions;
  private readonly reconnectOptions: ReconnectOptions;
  private readonly transports: TransportName[];
  private readonly httpUrl: string;
  private readonly wsUrl: string;
  private readonly channels = new Map<string, ChannelState>();
  /** Subscribe request id → channel, to route an error to its subscription. */
  private readonly subscribeIds = new Map<number, string>();
  private readonly pending = new Map<number, Pending>();
  /** Channels whose unsubscribe is in flight: a new subscribe waits for it (else `already_subscribed`). */
  private readonly unsubscribing = new Map<string, Promise<void>>();
  private currentState: ConnectionState = "disconnected";
  private lastChange: StateChange;
  private transport: Transport | undefined;
  private transportIndex = 0;
  private failedOpens = 0;
  private attempt = 0;
  private nextId = 1;
  /** Bumped by connect/disconnect and every new attempt, so stale async work can tell it is stale. */
  private generation = 0;
  private token: string | undefined;
  private tokenRequest: Promise<string> | undefined;
  private pingInterval = 0;
  /** This connection's id (its `connected` frame): an SSE client's acknowledgements name it. */
  private connectionId: string | undefined;
  private readonly receipts = new Receipts((channel, position) => this.sendAck(channel, position));
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private reopenScheduled = false;
  /** Loaded before the first connection unless `delta: false`; subscribes ask for deltas once it is here. */
  private decodeDelta: DeltaDecoder | undefined;
  /** The connection is another tab's or a worker's (share/); `transport` is the link to it. */
  private sharing = false;
  private readonly onOnline = (): void => {
    if (this.currentState !== "reconnecting" || this.sharing) return;
    clearTimeout(this.reconnectTimer);
    this.setState("reconnecting", "online", { nextDelay: 0 });
    void this.open();
  };

  constructor(options: HeraldOptions) {
    this.options = options;
    this.reconnectOptions = { ...DEFAULT_BACKOFF, maxAttempts: Infinity, stableAfter: 5_000, ...options.reconnect };
    this.transports = options.transports?.length ? [...options.transports] : ["websocket", "sse", "polling"];
    const base = new URL(options.url);
    base.protocol = base.protocol === "wss:" ? "https:" : base.protocol === "ws:" ? "http:" : base.protocol;
    this.httpUrl = base.toString();
    const ws = new URL(options.wsPath ?? "/ws", this.httpUrl);
    ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
    this.wsUrl = ws.toString();
    const maxAttempts = this.reconnectOptions.maxAttempts;
    this.lastChange = { newState: "disconnected", oldState: "disconnected", reason: "disconnect", attempt: 0, maxAttempts, nextDelay: 0, transport: this.transportName };
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The last state change with its details (attempt, nextDelay, transport); one object per change. */
  get lastStateChange(): StateChange {
    return this.lastChange;
  }

  /** The transport in use (or being tried). */
  get transportName(): TransportName {
    return this.sharing ? this.lastChange.transport : this.transports[this.transportIndex]!;
  }

  on<K extends keyof HeraldEvents>(type: K, listener: (payload: HeraldEvents[K]) => void): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof HeraldEvents>(type: K, listener: (payload: HeraldEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }

  /** Starts connecting; does nothing when already connected or on the way. */
  connect(): void {
    if (this.currentState !== "disconnected" && this.currentState !== "failed") return;
    this.attempt = 0;
    this.transportIndex = 0;
    this.failedOpens = 0;
    globalThis.addEventListener?.("online", this.onOnline);
    this.setState("connecting", "connect");
    void this.open();
  }

  /** Closes the connection and stops reconnecting. Subscriptions stay and resume on connect(). */
  disconnect(): void {
    this.stop();
    this.setState("disconnected", "disconnect");
  }

  /**
   * Subscribes to a channel (or joins the subscription this client already holds). Works before
   * connect(): the subscription is sent once connected. Throws on an invalid channel name, and
   * on a `filter` other than the one the channel's held handles have (`filter_conflict`: a
   * connection holds one subscription, so one filter, per channel). A filter the server cannot
   * parse fails the subscription with `invalid_filter` (its `error` event says where); to check
   * one before subscribing, use `compileTagFilter` from @herald/protocol. A pattern (`orders:*`)
   * gets the events of every matching channel it may read, each with its real `channel` (the
   * server checks the pattern itself: a refusal is the subscription's `error`).
   */
  subscribe<E extends EventMap = EventMap, S = unknown>(channel: string, options: SubscribeOptions<S> = {}): Subscription<E> {
    const pattern = channel.includes("*");
    const problem = pattern ? undefined : channelProblem(channel);
    if (problem) throw new HeraldError("invalid_channel", `${JSON.stringify(channel)}: ${problem}`);
    const filter = options.filter;
    // A state loader fills gaps by offset from history, which a filter makes on purpose.
    if (filter !== undefined && options.getState) throw new HeraldError("invalid_filter", "filter with getState");
    let shared = this.channels.get(channel);
    if (shared && shared.filter !== filter) {
      if (shared.refs > 0) throw new HeraldError("filter_conflict", `${channel} is held with another filter`);
      // Its last handle went a moment ago (release pending): let it go now and start afresh.
      clearTimeout(shared.releaseTimer);
      this.drop(shared);
      shared = undefined;
    }
    if (!shared) {
      shared = new ChannelState(channel);
      shared.filter = filter;
      this.channels.set(channel, shared);
      // A channel made for a state is subscribed from the state's position, once it is known;
      // a pattern once its code is loaded (counted as a loader until then, so no handle opens it first).
      shared.waiting = options.getState !== undefined || pattern;
      if (pattern) {
        const state = shared;
        state.loaders += 1;
        void import("./pattern-state.js").then(({ followPattern }) => {
          followPattern(state);
          if (--state.loaders === 0) this.opened(state, undefined);
        });
      }
      if (!shared.waiting) this.channelAdded(shared);
    }
    shared.refs += 1;
    clearTimeout(shared.releaseTimer);
    shared.releaseTimer = undefined;
    const state = shared;
    if (!options.getState) {
      // No handle is left to give a waiting channel its position: subscribe without one.
      if (state.loaders === 0) this.opened(state, undefined);
      return new Subscription<E>(shared, () => this.release(state));
    }
    state.loaders += 1;
    const release = (): void => {
      state.loaders -= 1;
      this.release(state);
      if (state.loaders === 0 && state.refs > 0) this.opened(state, undefined);
    };
    return new Subscription<E>(shared, release, this.stateSync(state, options.getState as GetState));
  }

  /** A read-only view of a channel this client is subscribed to, without taking a reference. */
  channel<E extends EventMap = EventMap>(channel: string): ChannelView<E> | undefined {
    return this.channels.get(channel) as ChannelView<E> | undefined;
  }

  /**
   * Publishes from the client (the channel's namespace must allow it). Resolves with the
   * `published` frame, which holds the event's offset. Needs the WebSocket transport.
   * `options.tags` (string → string) are what subscribers' filters match.
   */
  publish(channel: string, type: string, data: unknown = null, options: { tags?: Record<string, string> } = {}): Promise<PublishedFrame> {
    const transport = this.transport;
    if (this.currentState !== "connected" || !transport) return Promise.reject(new HeraldError("not_connected", "publish needs a connection; wait for state connected"));
    if (!transport.duplex) return Promise.reject(new HeraldError("publish_needs_websocket", `client publish needs the WebSocket transport, not ${transport.name}; publish from your backend instead`));
    const id = this.nextId++;
    return new Promise<IncomingFrame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      transport.send({ type: "publish", id, channel, event: type, data, ...options });
    }) as Promise<unknown> as Promise<PublishedFrame>;
  }

  /** A channel's recent events over HTTP (`GET /api/history`). */
  history<T = unknown>(channel: string, options: HistoryOptions = {}): Promise<HistoryResult<T>> {
    const query: Record<string, string> = { channel };
    if (options.since !== undefined) query.since = String(options.since);
    if (options.limit !== undefined) query.limit = String(options.limit);
    return this.getJson("/api/history", query);
  }

  /** Who is connected to a channel (`GET /api/presence`; the namespace must have presence on). */
  presence(channel: string): Promise<PresenceResult> {
    return this.getJson("/api/presence", { channel });
  }

  // ---- connection ----

  private setState(newState: ConnectionState, reason: StateReason, extra: { nextDelay?: number; code?: number; message?: string } = {}): void {
    const oldState = this.currentState;
    this.currentState = newState;
    // Only reconnecting repeats itself (each attempt is news); other repeats are not changes.
    if (oldState === newState && newState !== "reconnecting") return;
    const change: StateChange = {
      newState,
      oldState,
      reason,
      attempt: this.attempt,
      maxAttempts: this.reconnectOptions.maxAttempts,
      nextDelay: extra.nextDelay ?? 0,
      transport: this.transportName,
    };
    if (extra.code !== undefined) change.code = extra.code;
    if (extra.message !== undefined) change.message = extra.message;
    this.lastChange = change;
    this.emitter.emit("state", change);
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    // The shared connection runs in another tab or a worker, which has no codec of this client's.
    if (this.options.share !== false && typeof this.options.format !== "object" && typeof document === "object" && (await this.joinShared(generation))) return;
    try {
      this.token = this.options.getToken ? await this.fetchToken() : this.options.token;
      if (this.options.delta !== false) this.decodeDelta ??= await import("./delta.js").then((module) => module.decodeDelta, () => undefined);
    } catch (error) {
      if (generation !== this.generation) return;
      this.lost(ABNORMAL_CLOSURE, `getToken failed: ${error instanceof Error ? error.message : String(error)}`, false, "token_failed");
      return;
    }
    if (generation !== this.generation) return;
    this.startTransport(generation);
  }

  /**
   * Joins the connection the tabs of this origin share (loaded on demand, so that clients which
   * never share do not ship it). False when this browser cannot share: the client connects itself.
   */
  private async joinShared(generation: number): Promise<boolean> {
    // connect() after a mirrored `failed` finds the old link still attached: attach anew.
    this.transport?.close();
    const link = await import("./share/index.js")
      .then((share) => share.join(this.options, { frame: (frame) => this.frame(frame), mirror: (change) => this.mirror(change) }))
      .catch(() => undefined);
    if (generation !== this.generation) link?.close();
    else if (link) this.transport = link;
    this.sharing = !!link;
    return this.sharing || generation !== this.generation;
  }

  /** The shared connection's state becomes this client's; its subscriptions are asked for again once it is connected. */
  private mirror(change: StateChange): void {
    if (change.newState !== "connected") {
      this.dropPending("disconnected", "the shared connection closed before the answer came");
      for (const shared of this.channels.values()) if (shared.state.status === "subscribed") shared.setState({ status: "subscribing" });
    }
    const oldState = this.currentState;
    if (oldState === change.newState && oldState !== "reconnecting") return;
    this.currentState = change.newState;
    this.lastChange = { ...change, oldState };
    this.emitter.emit("state", this.lastChange);
  }

  /** Opens the current transport for this generation; also used to reopen a stream with new channels. */
  private startTransport(generation: number): void {
    let opened = false;
    let transport: Transport | undefined;
    const current = (): boolean => generation === this.generation && this.transport === transport;
    const callbacks: TransportCallbacks = {
      open: () => {
        if (!current()) return;
        opened = true;
        this.failedOpens = 0;
        if (transport?.duplex && this.token) transport.send({ type: "auth", token: this.token });
      },
      frame: (frame) => {
        if (current()) this.frame(frame);
      },
      close: (code, reason) => {
        if (current()) this.lost(code, reason, opened, "transport_closed");
      },
    };
    const Impl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    // A binary `format` wraps the WebSocket implementation (see wire-codec.ts).
    const format = this.options.format;
    const context: TransportContext = {
      httpUrl: this.httpUrl,
      wsUrl: this.wsUrl,
      token: this.token,
      channels: [...this.channels.values()].filter((shared) => !shared.waiting).map((shared) => {
        shared.sinceSent = shared.position;
        // Undefined fields stay out of the URL.
        return { channel: shared.channel, since: shared.position, positions: shared.positions, after: shared.after, filter: shared.filter };
      }),
      // Called through a function so that a browser's fetch never runs with a foreign `this`.
      fetch: (input, init) => (this.options.fetch ?? globalThis.fetch)(input, init),
      WebSocket: Impl && typeof format === "object" ? format.socket(Impl) : Impl,
      pollTimeout: this.options.pollTimeout ?? 25_000,
      delta: this.decodeDelta !== undefined,
    };
    try {
      // Transports call back asynchronously only, so `this.transport` is set before any callback.
      transport = new TRANSPORTS[this.transportName](context, callbacks);
      this.transport = transport;
    } catch (error) {
      this.transport = undefined;
      this.lost(ABNORMAL_CLOSURE, error instanceof Error ? error.message : String(error), false, "transport_closed");
    }
  }

  /** The transport is gone: reconnect with backoff, fall back to the next transport, or stop. */
  private lost(code: number, message: string, opened: boolean, reason: StateReason): void {
    this.transport?.close();
    this.transport = undefined;
    this.generation += 1;
    this.clearTimers();
    this.dropPending("disconnected", "the connection closed before the answer came");
    for (const shared of this.channels.values()) if (shared.state.status === "subscribed") shared.setState({ status: "subscribing" });

    if (opened && closeAction(code) === "stop") {
      this.stop();
      this.setState("failed", "server_closed", { code, message });
      return;
    }
    if (!opened) {
      this.failedOpens += 1;
      if (this.failedOpens >= (this.options.fallbackAfter ?? 2) && this.transportIndex < this.transports.length - 1) {
        this.transportIndex += 1;
        this.failedOpens = 0;
      }
    }
    this.attempt += 1;
    if (this.attempt > this.reconnectOptions.maxAttempts) {
      this.stop();
      this.setState("failed", "max_attempts", { code, message });
      return;
    }
    const delay = backoffDelay(this.attempt - 1, this.reconnectOptions);
    this.setState("reconnecting", reason, { nextDelay: delay, code, message });
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private stop(): void {
    this.generation += 1;
    this.clearTimers();
    this.transport?.close();
    this.transport = undefined;
    this.dropPending("disconnected", "disconnected before the answer came");
    globalThis.removeEventListener?.("online", this.onOnline);
    for (const shared of this.channels.values()) if (shared.state.status === "subscribed") shared.setState({ status: "subscribing" });
  }

  private clearTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.stableTimer);
    // A refused subscription is asked again by the next connection anyway.
    for (const shared of this.channels.values()) {
      clearTimeout(shared.retryTimer);
      shared.retryTimer = undefined;
    }
  }

  /** Any frame proves the connection alive; silence past pingInterval + grace means it is dead. */
  private heard(): void {
    clearTimeout(this.heartbeatTimer);
    if (this.pingInterval <= 0) return;
    const generation = this.generation;
    this.heartbeatTimer = setTimeout(() => {
      if (generation === this.generation) this.lost(ABNORMAL_CLOSURE, "no ping from the server in time", true, "heartbeat_timeout");
    }, this.pingInterval + (this.options.heartbeatGrace ?? 10_000));
  }

  // ---- frames ----

  private frame(frame: IncomingFrame): void {
    this.heard();
    switch (frame.type) {
      case "connected":
        this.connectionId = typeof frame.connectionId === "string" ? frame.connectionId : undefined;
        this.connected(frame.pingInterval);
        this.receipts.flush();
        return;
      case "ping":
        this.transport?.send({ type: "pong" });
        return;
      case "pong":
        return;
      case "subscribed":
        this.subscribedFrame(frame as unknown as SubscribedFrame);
        return;
      case "published":
        this.settle(frame, undefined);
        return;
      case "unsubscribed":
        if (!this.settle(frame, undefined)) this.serverRemoved(frame as unknown as UnsubscribedFrame);
        return;
      case "error":
        this.error(frame as IncomingFrame & { id?: number; code: string; message: string });
        return;
      default:
        if (typeof frame.channel === "string" && typeof frame.offset === "number") {
          const shared = this.channels.get(frame.channel) ?? [...this.channels.values()].find((state) => state.matcher?.test(frame.channel as string));
          const event = frame as unknown as EventFrame;
          // Not delivered (see ChannelState.awaiting), though maybe a pattern's: a sharing host's tap forwards it to the pattern's tabs.
          if (shared?.awaiting) return shared.tap?.(event);
          let handled: boolean | undefined;
          try {
            handled = shared?.event(event, this.decodeDelta);
          } catch {
            // A delta that does not apply leaves the position before it: recovery resends it in full.
            this.lost(ABNORMAL_CLOSURE, "a delta did not apply", true, "transport_closed");
          }
          if (handled && shared!.receipts) this.receipts.handled(event.channel, { epoch: event.epoch, offset: event.offset });
        }
    }
  }

  private connected(pingInterval: unknown): void {
    this.pingInterval = typeof pingInterval === "number" ? pingInterval : 0;
    this.heard();
    const wasConnected = this.currentState === "connected";
    this.setState("connected", "transport_open");
    if (!wasConnected) {
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        this.attempt = 0;
      }, this.reconnectOptions.stableAfter);
    }
    if (this.transport?.duplex) for (const shared of this.channels.values()) void this.sendSubscribe(shared);
  }

  /** A `subscribed` frame: the answer to a subscribe, or, without an `id` for a channel not held, a subscription the server made. */
  private subscribedFrame(frame: SubscribedFrame): void {
    let shared = this.channels.get(frame.channel);
    // A route's subscription, answered before ours takes it over (see ChannelState.awaiting).
    if (frame.id === undefined && shared?.awaiting) return;
    const serverMade = shared === undefined && frame.id === undefined;
    if (serverMade) {
      shared = new ChannelState(frame.channel);
      this.channels.set(frame.channel, shared);
    }
    shared?.subscribed(frame);
    if (serverMade) this.emitter.emit("server_subscribed", { channel: frame.channel });
  }

  /** The server removed a subscription (server API): it is not asked for again; a new subscribe(channel) starts a new one. */
  private serverRemoved(frame: UnsubscribedFrame): void {
    const shared = this.channels.get(frame.channel);
    if (!shared) return;
    this.channels.delete(frame.channel);
    clearTimeout(shared.retryTimer);
    clearTimeout(shared.releaseTimer);
    shared.removed({ code: frame.code ?? "server_unsubscribe", ...(frame.reason === undefined ? {} : { reason: frame.reason }) });
  }

  private error(frame: IncomingFrame & { id?: number; code: string; message: string }): void {
    const id = typeof frame.id === "number" ? frame.id : undefined;
    // The server ended the connection (server API disconnect). A WebSocket's close code follows,
    // but SSE and polling have none: act on the code the error stands for (stop, or reconnect).
    const closeCode = id === undefined && frame.channel === undefined ? closeCodeOfError(frame.code) : undefined;
    if (closeCode !== undefined) {
      this.lost(closeCode, frame.message, true, "transport_closed");
      return;
    }
    // A refused subscribe is named by its request id (WebSocket) or by `channel` (SSE, polling).
    const channel = id === undefined ? (typeof frame.channel === "string" ? frame.channel : undefined) : this.subscribeIds.get(id);
    // An expired token is renewed and the refused subscribe sent again; nobody else needs to know.
    const renew = frame.code === "token_expired" && this.options.getToken !== undefined;
    if (renew) void this.refreshToken(channel);
    if (id !== undefined && this.settle(frame, new HeraldError(frame.code, frame.message))) return;
    if (channel !== undefined) {
      if (id !== undefined) this.subscribeIds.delete(id);
      const shared = this.channels.get(channel);
      if (!renew && shared) this.refused(shared, frame.code, frame.message);
      return;
    }
    if (!renew) this.emitter.emit("error", { code: frame.code, message: frame.message });
  }

  /**
   * A subscription was refused. A retryable code (the protocol's list, e.g. `engine_unavailable`)
   * is asked again after a backoff delay that grows with each refusal in a row: a new subscribe on
   * WebSocket, a new stream or poll on SSE and polling (whose servers end the request on such a
   * refusal, so the reconnect usually comes first). Any other code is final: `failed`.
   */
  private refused(shared: ChannelState, code: string, message: string): void {
    if (!isRetryable(code)) {
      shared.failed({ channel: shared.channel, code, message });
      return;
    }
    const delay = backoffDelay(shared.refusals, this.reconnectOptions);
    shared.refusals += 1;
    clearTimeout(shared.retryTimer);
    const generation = this.generation;
    shared.retryTimer = setTimeout(() => {
      shared.retryTimer = undefined;
      if (generation !== this.generation || this.channels.get(shared.channel) !== shared || this.currentState !== "connected") return;
      if (this.transport?.duplex) void this.sendSubscribe(shared);
      else this.reopenStream();
    }, delay);
    shared.failed({ channel: shared.channel, code, message, retryIn: delay });
  }

  /** Answers a pending request by id; returns whether there was one. */
  private settle(frame: IncomingFrame, error: HeraldError | undefined): boolean {
    const id = frame.id;
    if (typeof id !== "number") return false;
    const pending = this.pending.get(id);
    if (!pending) return false;
    this.pending.delete(id);
    if (error) pending.reject(error);
    else pending.resolve(frame);
    return true;
  }

  private dropPending(code: string, message: string): void {
    for (const pending of this.pending.values()) pending.reject(new HeraldError(code, message));
    this.pending.clear();
    this.subscribeIds.clear();
    for (const shared of this.channels.values()) shared.awaiting = false;
  }

  /** One getToken call at a time: whoever needs a token while one is on its way waits for that one. */
  private fetchToken(): Promise<string> {
    return (this.tokenRequest ??= (async () => this.options.getToken!())().finally(() => (this.tokenRequest = undefined)));
  }

  private async refreshToken(channel: string | undefined): Promise<void> {
    const generation = this.generation;
    let token: string;
    try {
      token = await this.fetchToken();
    } catch (error) {
      this.emitter.emit("error", { code: "token_expired", message: `getToken failed: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    if (generation !== this.generation || !this.transport) return;
    // Every refusal that waited for this token resumes here; the connection is told it once.
    if (token !== this.token) this.transport.send({ type: "auth", token });
    this.token = token;
    const shared = channel === undefined ? undefined : this.channels.get(channel);
    if (shared) void this.sendSubscribe(shared);
  }

  // ---- subscriptions ----

  /**
   * The state sync loads on demand, so that apps which never pass getState do not ship it. The
   * handle's emitter exists at once; what the channel delivers before the code arrives is caught
   * up from history when the state loads, as for any state behind the channel.
   */
  private stateSync(shared: ChannelState, getState: GetState): StateSync {
    const events = new Emitter<Record<string, unknown>>();
    let sync: StateSync | undefined;
    let disposed = false;
    void import("./state-sync.js").then(({ syncState }) => {
      if (disposed) return;
      sync = syncState(shared, getState, { history: (channel, since) => this.history(channel, { since }), backoff: this.reconnectOptions, loaded: (position) => this.opened(shared, position) }, events);
    });
    return {
      events,
      dispose: () => {
        disposed = true;
        sync?.dispose();
      },
    };
  }

  /** A channel waiting for a state's position gets it (or none): it is subscribed from there. */
  private opened(shared: ChannelState, position: StreamPosition | undefined): void {
    if (!shared.waiting || this.channels.get(shared.channel) !== shared) return;
    shared.waiting = false;
    shared.position ??= position;
    this.channelAdded(shared);
  }

  private channelAdded(shared: ChannelState): void {
    if (this.currentState !== "connected" || !this.transport) return;
    if (this.transport.duplex) void this.sendSubscribe(shared);
    else this.reopenStream();
  }

  private async sendSubscribe(shared: ChannelState): Promise<void> {
    const waiting = this.unsubscribing.get(shared.channel);
    if (waiting) await waiting;
    const transport = this.transport;
    if (!transport?.duplex || this.channels.get(shared.channel) !== shared || this.currentState !== "connected" || shared.waiting) return;
    const id = this.nextId++;
    this.subscribeIds.set(id, shared.channel);
    shared.sinceSent = shared.position;
    shared.awaiting = true;
    if (shared.state.status !== "subscribing") shared.setState({ status: "subscribing" });
    const frame: ClientFrame = { type: "subscribe", id, channel: shared.channel };
    if (shared.position) frame.since = shared.position;
    if (shared.positions) frame.positions = shared.positions;
    frame.after = shared.after;
    if (this.decodeDelta) frame.delta = "fossil";
    // Undefined, it stays out of the JSON frame.
    frame.filter = shared.filter;
    // The token rides on the subscribe too: the server may check it before it has handled `auth`.
    if (this.token) frame.token = this.token;
    transport.send(frame);
  }

  private release(shared: ChannelState): void {
    shared.refs -= 1;
    if (shared.refs > 0) return;
    // Deferred, so a handle dropped and taken again at once (React StrictMode mounts effects
    // twice) keeps the server subscription instead of unsubscribing and subscribing again.
    clearTimeout(shared.releaseTimer);
    shared.releaseTimer = setTimeout(() => this.drop(shared), 0);
  }

  /** Ends a channel's server subscription once no handle holds it. */
  private drop(shared: ChannelState): void {
    if (shared.refs > 0 || this.channels.get(shared.channel) !== shared) return;
    this.channels.delete(shared.channel);
    clearTimeout(shared.retryTimer);
    this.receipts.forget(shared.channel);
    shared.removed();
    const transport = this.transport;
    if (this.currentState !== "connected" || !transport) return;
    if (!transport.duplex) {
      this.reopenStream();
      return;
    }
    const id = this.nextId++;
    const done = new Promise<void>((resolve) => {
      this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
    }).finally(() => {
      if (this.unsubscribing.get(shared.channel) === done) this.unsubscribing.delete(shared.channel);
    });
    this.unsubscribing.set(shared.channel, done);
    transport.send({ type: "unsubscribe", id, channel: shared.channel });
  }

  /**
   * One acknowledgement (receipts.ts): a frame on a WebSocket; for SSE a small POST naming this
   * connection, for polling one naming the position (as the token's user). False when not
   * connected: it waits for the next connection.
   */
  private sendAck(channel: string, position: StreamPosition): boolean {
    const transport = this.transport;
    if (this.currentState !== "connected" || !transport) return false;
    if (transport.duplex) {
      transport.send({ type: "ack", channel, offset: position.offset });
      return true;
    }
    const url = new URL("/api/ack", this.httpUrl);
    if (this.token) url.searchParams.set("token", this.token);
    const body = transport.name === "sse" && this.connectionId !== undefined ? { channel, offset: position.offset, connectionId: this.connectionId } : { channel, offset: position.offset, epoch: position.epoch };
    // Best effort: a lost acknowledgement is made good by the next one, which is cumulative.
    void (this.options.fetch ?? globalThis.fetch)(url.toString(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).catch(() => undefined);
    return true;
  }

  /** SSE and polling carry the channel set in their URL: a new set means a new request, resuming from the positions. */
  private reopenStream(): void {
    if (this.reopenScheduled) return;
    this.reopenScheduled = true;
    queueMicrotask(() => {
      this.reopenScheduled = false;
      if (this.currentState !== "connected" || !this.transport || this.transport.duplex) return;
      this.transport.close();
      this.transport = undefined;
      this.startTransport(++this.generation);
    });
  }

  // ---- HTTP ----

  private async getJson<T>(path: string, query: Record<string, string>): Promise<T> {
    const url = new URL(path, this.httpUrl);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const token = this.token ?? (this.options.getToken ? await this.fetchToken() : this.options.token);
    if (token) url.searchParams.set("token", token);
    let response: Response;
    try {
      response = await (this.options.fetch ?? globalThis.fetch)(url.toString());
    } catch (error) {
      throw new HeraldError("http_error", `GET ${path} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
    if (!response.ok) {
      const error = body?.error;
      throw error ? new HeraldError(error.code, error.message, response.status) : new HeraldError("http_error", `GET ${path} answered HTTP ${response.status}`, response.status);
    }
    return body as T;
  }
}
