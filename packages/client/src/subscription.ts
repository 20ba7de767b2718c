/**
 * Subscriptions. A `Subscription` is a handle: each `herald.subscribe(channel)` returns a new one
 * with its own listeners, and all the handles of one channel share one `ChannelState`, which is
 * the single server subscription (reference counted, so a hundred components watching
 * `user:alice` cost one subscription on the wire).
 *
 * The channel state also owns recovery: it remembers the epoch and offset of the last event it
 * delivered, which the client sends as `since` when it subscribes again after a reconnect, and it
 * drops any event at or below that offset, so an event is never delivered twice whatever the
 * transport or however often the connection was cut.
 */

import type { CacheResult, EventFrame, StreamPosition, SubscribedFrame } from "@herald/protocol";
import { Emitter } from "./emitter.js";
import type { DeltaDecoder } from "./delta.js";
import type { GetState, StateLoadedContext, StateSync } from "./state-sync.js";

/** Event names to payload types, e.g. `{ balance_update: { availableBalance: number } }`. */
export type EventMap = Record<string, unknown>;

export interface SubscribedContext {
  channel: string;
  /** True when the events missed since the last connection follow (or none were missed). */
  recovered: boolean;
  epoch: string;
  offset: number;
  /**
   * In a namespace with `cache: true`, on a subscribe without a position: `hit` when the channel's
   * latest event (at `offset`) is delivered next, `miss` when the channel has none retained.
   */
  cache?: CacheResult;
}

/** The server could not replay what was missed (history expired or lost): reload the state. */
export interface RecoveryFailedContext {
  channel: string;
  /** Where the client was. */
  since: StreamPosition;
  /** Where the stream is now; events after it are delivered. */
  epoch: string;
  offset: number;
}

export interface SubscriptionErrorContext {
  channel: string;
  code: string;
  message: string;
  /**
   * Set when the refusal is retryable (e.g. `engine_unavailable`): the client asks again in this
   * many ms (or when the connection comes back) and the subscription stays `subscribing`. Absent
   * when the refusal is final: the subscription is `failed`.
   */
  retryIn?: number;
}

export interface UnsubscribedContext {
  channel: string;
  /**
   * Set when the server removed the subscription (the app did not unsubscribe): `server_unsubscribe`
   * for the server API's unsubscribe. The client does not ask for that channel again; a new
   * `herald.subscribe(channel)` starts a new subscription.
   */
  code?: string;
  /** The server's words, with `code`. */
  reason?: string;
}

/** Events every subscription emits besides the channel's own events. */
export interface SubscriptionControlEvents {
  /** Only on a handle given `getState`: the state to start from, before the events after it. */
  state_loaded: StateLoadedContext;
  subscribed: SubscribedContext;
  recovery_failed: RecoveryFailedContext;
  error: SubscriptionErrorContext;
  unsubscribed: UnsubscribedContext;
}

export type SubscriptionStatus = "subscribing" | "subscribed" | "failed" | "unsubscribed";

/** A subscription's state as one immutable value (a new object on every change, for UI stores). */
export interface SubscriptionSnapshot {
  status: SubscriptionStatus;
  /** From the last `subscribed`. */
  recovered: boolean;
  error?: SubscriptionErrorContext;
  /** With status `unsubscribed`, when the server removed the subscription: its code and reason. */
  unsubscribed?: UnsubscribedContext;
}

/** What a handler receives: a channel event's data and its frame, or a control event's context. */
export type SubscriptionHandler<E extends EventMap, K> = K extends keyof SubscriptionControlEvents
  ? (context: SubscriptionControlEvents[K]) => void
  : K extends keyof E
    ? (data: E[K], event: EventFrame<E[K]>) => void
    : never;

/** Read-only view of a channel, without holding a subscription to it. */
export interface ChannelView<E extends EventMap = EventMap> {
  readonly channel: string;
  readonly state: SubscriptionSnapshot;
  /** The data of the newest event of this type seen on the channel. */
  latest<K extends keyof E & string>(type: K): E[K] | undefined;
  /** Calls `listener` on every state change and every event; returns the function that stops it. */
  watch(listener: () => void): () => void;
}

type ChannelEvents = SubscriptionControlEvents & Record<string, unknown>;

/** @internal The one server subscription behind every handle of a channel. */
export class ChannelState implements ChannelView {
  refs = 0;
  /** Not subscribed yet: waiting for the position of the state a handle is loading (getState). */
  waiting = false;
  /** Handles of this channel given `getState`. */
  loaders = 0;
  /** The tag filter the server applies (the same for every handle of the channel). */
  filter: string | undefined;
  /** Last delivered position; sent as `since` on the next subscribe. */
  position: StreamPosition | undefined;
  /** The `since` of the subscribe in flight, to tell a failed recovery from a first subscribe. */
  sinceSent: StreamPosition | undefined;
  /**
   * A subscribe of ours is in flight on a WebSocket: what the channel sends before its answer is
   * a route's own subscription, which the answer takes over and resends from our position.
   */
  awaiting = false;
  releaseTimer: ReturnType<typeof setTimeout> | undefined;
  /** Retryable refusals in a row (reset by `subscribed`): the backoff attempt of the next retry. */
  refusals = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The server keeps receipts for this channel (its last `subscribed` said so): handled events are acknowledged. */
  receipts = false;
  /** Set on a pattern's state (pattern-state.ts): which channels it takes, and each one's last delivered position. */
  declare matcher: RegExp | undefined;
  declare positions: Record<string, StreamPosition> | undefined;
  /** Set on a pattern's state: the `time` of its last `subscribed`, sent back as `after` so that channels that started matching meanwhile are not missed. */
  declare after: string | undefined;
  /**
   * The UTF-8 of the last event's data JSON while the server sends this channel deltas (its last
   * `subscribed` said `delta`): the next delta applies to it. Reset by every `subscribed`, after
   * which the server sends a full event first.
   */
  deltaBase: Uint8Array | undefined;
  private deltas = false;
  /**
   * Sees every event delivered, in order, whatever its type, and those a subscribe in flight
   * (`awaiting`) keeps from being delivered: the sharing host forwards them to the tabs.
   */
  tap: ((frame: EventFrame) => void) | undefined;
  state: SubscriptionSnapshot = { status: "subscribing", recovered: false };
  readonly emitter = new Emitter<ChannelEvents>();
  private readonly latestByType = new Map<string, unknown>();
  private readonly watchers = new Set<() => void>();

  constructor(readonly channel: string) {}

  latest(type: string): never {
    return this.latestByType.get(type) as never;
  }

  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  setState(next: Partial<SubscriptionSnapshot>): void {
    const merged = { ...this.state, ...next };
    if (merged.status === this.state.status && merged.recovered === this.state.recovered && merged.error === this.state.error && merged.unsubscribed === this.state.unsubscribed) return;
    this.state = merged;
    this.notify();
  }

  subscribed(frame: SubscribedFrame): void {
    // Without a subscribe in flight (a stream transport reporting a gap it found mid-stream, see
    // the polling transport) the client was at its last delivered position.
    const since = this.sinceSent ?? (frame.recovered ? undefined : this.position);
    this.sinceSent = undefined;
    this.awaiting = false;
    this.refusals = 0;
    this.receipts = frame.receipts === true;
    this.deltas = frame.delta === "fossil";
    this.deltaBase = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Recovered: the missed events follow and move the position on; otherwise start at the head,
    // or just before it when the latest event follows (cache hit).
    if (!(frame.recovered && since)) this.position = { epoch: frame.epoch, offset: frame.cache === "hit" ? frame.offset - 1 : frame.offset };
    const { error: _cleared, ...rest } = this.state;
    this.state = { ...rest, status: "subscribed", recovered: frame.recovered };
    if (since && !frame.recovered) this.emitter.emit("recovery_failed", { channel: this.channel, since, epoch: frame.epoch, offset: frame.offset });
    const context: SubscribedContext = { channel: this.channel, recovered: frame.recovered, epoch: frame.epoch, offset: frame.offset };
    if (frame.cache) context.cache = frame.cache;
    this.emitter.emit("subscribed", context);
    this.notify();
  }

  /**
   * Delivers an event unless it was delivered already; true when its handlers ran (and returned).
   * While the server sends deltas, a delta frame is made whole first (`decode`), so handlers only
   * ever see full data; one that does not apply throws before anything moved, and the client
   * reconnects to recover it in full.
   */
  event(frame: EventFrame, decode?: DeltaDecoder): boolean {
    const position = this.position;
    if (position && position.epoch === frame.epoch && frame.offset <= position.offset) return false;
    if (this.deltas) this.deltaBase = decode!(this.deltaBase, frame);
    this.position = { epoch: frame.epoch, offset: frame.offset };
    this.latestByType.set(frame.type, frame.data);
    this.tap?.(frame);
    this.emitter.emit(frame.type, frame);
    // "*" cannot be an event type: every event, for handles that keep a state (StateSync).
    this.emitter.emit("*", frame);
    this.notify();
    return true;
  }

  /** A refusal: final (`failed`), or retryable (still `subscribing`, with `error.retryIn`). */
  failed(error: SubscriptionErrorContext): void {
    this.awaiting = false;
    this.setState({ status: error.retryIn === undefined ? "failed" : "subscribing", error });
    this.emitter.emit("error", error);
  }

  /** The subscription ended: the app let go of it, or the server removed it (`by`: its code and reason). */
  removed(by?: { code?: string; reason?: string }): void {
    const context: UnsubscribedContext = { channel: this.channel };
    if (by?.code !== undefined) context.code = by.code;
    if (by?.reason !== undefined) context.reason = by.reason;
    this.setState(by === undefined ? { status: "unsubscribed" } : { status: "unsubscribed", unsubscribed: context });
    this.emitter.emit("unsubscribed", context);
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

const CONTROL = new Set<string>(["state_loaded", "subscribed", "recovery_failed", "error", "unsubscribed"]);

/** Options of `herald.subscribe(channel, options)`. */
export interface SubscribeOptions<S = unknown> {
  /**
   * Loads the app's state and the stream position it reflects. The handle then emits
   * `state_loaded` and exactly the events after that position (none missed, none twice), and
   * calls it again by itself when the channel's recovery fails. Default: none.
   */
  getState?: GetState<S>;
  /**
   * A tag filter: only events whose tags pass it are sent, e.g. `symbol in (BTC,ETH) and severity`
   * (grammar in docs/protocol.md, "Tag filters"). Sent again with every resubscribe, so recovery
   * brings exactly the matching events missed. Not with `getState`. Default: none (every event).
   */
  filter?: string;
}

/** A handle on a channel subscription. Listeners added through it go away with `unsubscribe()`. */
export class Subscription<E extends EventMap = EventMap> implements ChannelView<E> {
  private readonly listeners: Array<{ type: string; handler: unknown; remove: () => void }> = [];
  private released = false;

  /** @internal Use `herald.subscribe(channel)`. */
  constructor(
    private readonly shared: ChannelState,
    private readonly release: () => void,
    private readonly sync?: StateSync,
  ) {}

  get channel(): string {
    return this.shared.channel;
  }

  get state(): SubscriptionSnapshot {
    return this.shared.state;
  }

  latest<K extends keyof E & string>(type: K): E[K] | undefined {
    return this.shared.latest(type);
  }

  watch(listener: () => void): () => void {
    return this.shared.watch(listener);
  }

  /**
   * Listens to a channel event (`handler(data, frame)`) or to a control event: `subscribed`
   * (with `recovered`), `recovery_failed` (the app must reload its state, unless the handle was
   * given `getState`, which does it), `error`, `unsubscribed`, `state_loaded` (with `getState`).
   * Returns the function that removes the listener.
   */
  on<K extends (keyof E & string) | keyof SubscriptionControlEvents>(type: K, handler: SubscriptionHandler<E, K>): () => void {
    if (this.released) return () => {};
    const control = CONTROL.has(type);
    const listener = control ? (handler as (context: unknown) => void) : (frame: unknown) => (handler as (data: unknown, event: unknown) => void)((frame as EventFrame).data, frame);
    // A handle keeping a state hears the channel's events through its sync, which drops those the state has.
    const source = this.sync && (!control || type === "state_loaded") ? this.sync.events : this.shared.emitter;
    const off = source.on(type, listener);
    return this.track(type, handler, off);
  }

  /** Listens to every event of the channel, whatever its type (`handler(frame)`). Returns the function that removes it. */
  onEvent(handler: (event: EventFrame) => void): () => void {
    if (this.released) return () => {};
    const off = (this.sync ? this.sync.events : this.shared.emitter).on("*", handler as (frame: unknown) => void);
    return this.track("*", handler, off);
  }

  private track(type: string, handler: unknown, off: () => void): () => void {
    const entry = {
      type,
      handler,
      remove: () => {
        off();
        const index = this.listeners.indexOf(entry);
        if (index >= 0) this.listeners.splice(index, 1);
      },
    };
    this.listeners.push(entry);
    return entry.remove;
  }

  off<K extends (keyof E & string) | keyof SubscriptionControlEvents>(type: K, handler: SubscriptionHandler<E, K>): void {
    this.listeners.find((entry) => entry.type === type && entry.handler === handler)?.remove();
  }

  /** Removes this handle's listeners; the server subscription ends when the last handle of the channel goes. */
  unsubscribe(): void {
    if (this.released) return;
    this.released = true;
    for (const entry of [...this.listeners]) entry.remove();
    this.sync?.dispose();
    this.release();
  }
}
