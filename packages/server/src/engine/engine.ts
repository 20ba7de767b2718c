/**
 * The engine contract: where streams (history, offsets, epochs), fan-out between nodes and
 * presence live. The hub and the transports talk only to this interface, so the memory engine
 * (one process, the default) and the Redis engine (many nodes) are interchangeable.
 *
 * Any engine must guarantee:
 * 1. Offsets. Each channel has one stream with an `epoch` and an `offset`; every accepted publish
 *    gets `offset = previous + 1`, one total order per channel that every node sees.
 * 2. Epochs. The epoch changes whenever the stream's history may have been lost (a restart of a
 *    memory engine, an expired or evicted stream). A position is only comparable within one epoch.
 * 3. Delivery. After `subscribe(channel)` resolves, every event accepted for that channel on any
 *    node is passed to `handler.onEvent` on this node, exactly once, in offset order, until
 *    `unsubscribe(channel)`; events it cannot deliver (lost while cut off from its backing
 *    service) it reports through `handler.onGap`, never skipping them silently. Events published before `subscribe` resolved may or may not arrive
 *    (the hub closes that gap by reading history after subscribing and de-duplicating by offset).
 * 4. History. `history()` returns the retained events (at most `historySize`, none older than
 *    `historyTtlMs`) in offset order, with the stream's current position read no earlier than
 *    the newest returned event.
 * 5. Honesty. `publish` resolves only once the event is stored and will be delivered. It rejects
 *    with a HeraldError `engine_unavailable` only when the event surely was not stored (the command never
 *    left this node), and with `engine_timeout` when it may have been (the connection broke
 *    or the answer did not come in time after the command was sent): the outcome is unknown, and
 *    only a retry with the same idempotency key settles it. Never accepting and dropping.
 * 6. Idempotency. A publish given an idempotency key is recorded under that key, for `ttlMs`, in
 *    the same atomic step that stores the event, in the engine's shared store (so every node sees
 *    it). A later publish with the same key within that time stores nothing and resolves to the
 *    first event's epoch, offset and time with `replayed: true`; it is not delivered again. Two
 *    concurrent publishes with one key store once. `recall` reads a record without publishing.
 * 7. Control. `survey(request)` hands `request` to `handler.onControl` on every node of the cluster
 *    that is running, this one included, and resolves with their answers, this node's first. It
 *    first sends the request to the other nodes and rejects with `engine_unavailable` when it cannot
 *    (then no node, this one included, acted on it). A node that has stopped is neither asked nor
 *    waited for; one that got the request but did not answer within the engine's command timeout
 *    (or failed) is counted in `missing`, never waited for longer. Control messages are not events:
 *    never stored, never passed to `onEvent`, and the delivery of events does not depend on them.
 * 8. Users online. `userConnect` counts a connection of a user in the shared store and resolves to
 *    true for exactly one connection, cluster-wide, per time the user goes from offline to online.
 *    `userDisconnect` takes the connection back; when it was the user's last, the user's offline
 *    deadline is set to now + the connection's grace. A connection whose node stopped (it no longer
 *    refreshes its connections, as with presence) is taken back the same way once it expires.
 *    `claimOffline` hands out the users whose deadline passed with no connection back, each to
 *    exactly one caller on any node (claimed atomically in the shared store); a user who returned
 *    before the deadline is never handed out, and counts as online all along.
 * 9. Receipts. `acknowledge` keeps, per channel and reader, the highest acknowledged offset of one
 *    epoch and the engine's time when it was reached (a lower or equal offset changes nothing; an
 *    offset of another epoch replaces it), in the shared store, for the channel's history TTL after
 *    the last acknowledgement. `receipts` reads them back, only those of the epoch asked for.
 * 10. Due items. `schedule` stores an item under an id in a named queue of the shared store, due at
 *    a time of the engine's clock (an id already stored is left as it is). `claimDue` hands out the
 *    items due by the engine's clock and, in the same atomic step, makes each due again `leaseMs`
 *    later, so that of callers on any nodes exactly one gets an item, and an item whose claimer
 *    died before `completeDue` is handed out again after the lease (never lost, possibly repeated).
 */

import type { EventTags, StreamPosition } from "@herald/protocol";

/** One event as stored in a stream. */
export interface StreamEvent {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  readonly epoch: string;
  readonly offset: number;
  /** Milliseconds since the Unix epoch, set by the engine when it accepted the event. */
  readonly time: number;
  /** The connection the event came from, when one did (see EventSender); stored and delivered with it. */
  readonly sender?: EventSender;
  /**
   * The W3C `traceparent` of the event's publish span, while tracing is on (shared/tracing.ts):
   * delivered with the live event to every node, so their fan-out spans join the publisher's
   * trace, and kept in history with the event, so every event frame (live, recovered, polled)
   * names the trace id. Absent while tracing is off.
   */
  readonly trace?: string;
  /** The tags the event was published with, when it had some: kept in history, sent with the event, matched by subscribers' filters. */
  readonly tags?: EventTags;
}

/**
 * The connection an event came from or was published on behalf of: the hub never delivers the
 * event back to it (a Pusher client event, or a trigger naming its socket_id), and `user` names
 * who sent it where the receivers are told (Pusher presence channels).
 */
export interface EventSender {
  readonly connectionId: string;
  readonly user?: string;
}

/** What `publish` resolves to: the stored event, or for a repeated idempotency key the first one. */
export interface PublishedEvent extends StreamEvent {
  /**
   * True when the idempotency key was already recorded: nothing was stored now, and epoch, offset
   * and time are the first publish's (type and data are this call's; a key names one event).
   */
  readonly replayed: boolean;
}

/** Makes a publish idempotent (the contract's point 6). */
export interface IdempotencyKey {
  /** Names one event: unique per publisher and event (the HTTP API scopes it by credential and batch position). */
  readonly key: string;
  /** How long the record is kept, in ms (`publish.replayWindow`). */
  readonly ttlMs: number;
}

/** An idempotency record: where the event published under the key was stored. */
export interface IdempotencyRecord extends StreamPosition {
  /** Milliseconds since the Unix epoch, as the stored event's `time`. */
  readonly time: number;
}

/** Per-channel stream settings, taken from the channel's namespace. */
export interface StreamOptions {
  /** How many events history keeps; 0 keeps none (offsets still grow). */
  readonly historySize: number;
  /** How long an event stays in history, in milliseconds. */
  readonly historyTtlMs: number;
}

export interface HistoryQuery {
  /** Return events with offset greater than this. */
  readonly since?: number;
  /** At most this many events; with `since` the oldest ones, without it the newest ones. */
  readonly limit?: number;
}

export interface HistoryResult extends StreamPosition {
  readonly events: StreamEvent[];
  /**
   * With `since`: true when history still held every event after `since` (so nothing between
   * `since` and the returned events is missing). Without `since`: true.
   */
  readonly complete: boolean;
}

export interface PresenceEntry {
  readonly connectionId: string;
  readonly user?: string;
  /** What the connection tells others about its user (a Pusher member's user_info), as JSON. */
  readonly info?: unknown;
  readonly transport: string;
  readonly node: string;
  /** ISO-8601. */
  readonly connectedAt: string;
}

export interface EngineHandler {
  onEvent(event: StreamEvent): void;
  /** The engine lost or regained its backing service; optional to implement. */
  onAvailabilityChange?(available: boolean): void;
  /**
   * Events of a channel held by this node could not be delivered here and cannot be read back
   * (they left history, or the stream was lost, while this node was cut off from the engine).
   * Live delivery goes on after the gap; the hub must tell the channel's subscribers, who would
   * otherwise miss those events silently. Optional: engines that cannot lose events never call it.
   */
  onGap?(channel: string): void;
  /**
   * A control request sent by `survey` on any node, this one included; resolves to this node's
   * answer, which must survive JSON. A handler without it answers nothing (the node counts as missing).
   */
  onControl?(request: unknown): Promise<unknown>;
  /**
   * Users this node counted online again on its own (its connections had expired while it was cut
   * off from the engine, and came back with it), as `userConnect` resolving to true would have
   * said. Optional: engines that never expire a running node's connections never call it.
   */
  onUsersOnline?(users: string[]): void;
}

/** The highest offset a reader acknowledged on a channel (the contract's point 9). */
export interface Receipt {
  /** Who acknowledged: the hub names users and anonymous connections apart (see hub/receipts.ts). */
  readonly reader: string;
  readonly offset: number;
  /** Milliseconds since the Unix epoch when `offset` was acknowledged, by the engine's clock. */
  readonly time: number;
}

/** An item of a due queue (the contract's point 10). */
export interface DueItem {
  readonly id: string;
  readonly payload: string;
}

/** What `survey` resolves to (the contract's point 7). */
export interface SurveyResult {
  /** The answer of every node that answered in time, this node's first; each survived JSON. */
  readonly answers: unknown[];
  /** Nodes that got the request but did not answer in time, or failed to handle it. */
  readonly missing: number;
}

export interface EngineStatus {
  readonly name: string;
  readonly available: boolean;
  /** Engine-specific figures for /api/status. */
  readonly details?: Record<string, unknown>;
}

export interface Engine {
  readonly name: string;
  start(handler: EngineHandler): Promise<void>;
  close(): Promise<void>;
  publish(channel: string, type: string, data: unknown, options: StreamOptions, idempotency?: IdempotencyKey, sender?: EventSender, trace?: string, tags?: EventTags): Promise<PublishedEvent>;
  /** The record of an idempotency key used on this channel within its TTL, or undefined. */
  recall(channel: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** Calls are counted per channel: delivery stops only when every subscribe has had its unsubscribe. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /**
   * Pattern subscriptions (hub/pattern-subscription.ts): from when it resolves until
   * `unlistenPattern`, events of channels this node has not subscribed to whose name matches
   * `pattern` (channel-pattern.ts) are passed to `handler.onEvent` too, each once, in offset order
   * per channel, but without the guarantee of point 3 (a lost one is not reported): the hub
   * subscribes to such a channel before it delivers it. Calls are counted per pattern. An engine
   * that cannot (or is configured not to) leaves it out, or rejects with `patterns_unsupported`.
   */
  listenPattern?(pattern: string): Promise<void>;
  unlistenPattern?(pattern: string): Promise<void>;
  /**
   * The channels matching `pattern` that got an event at or after `time` (ms since the Unix epoch,
   * compared with the events' `time`), as far as the engine remembers: an engine that delivers
   * patterns keeps an index of the channels published to per namespace for the namespace's
   * history TTL, so a time older than that may miss channels. How the hub finds the channels that
   * started matching while a client was away (a pattern subscribe with `after`). With listenPattern.
   */
  channelsPublishedSince?(pattern: string, time: number): Promise<string[]>;
  history(channel: string, query: HistoryQuery, options: StreamOptions): Promise<HistoryResult>;
  /** The current position of a channel's stream (offset 0 when nothing was ever published). */
  position(channel: string, options: StreamOptions): Promise<StreamPosition>;
  addPresence(channel: string, entry: PresenceEntry): Promise<void>;
  removePresence(channel: string, connectionId: string): Promise<void>;
  presence(channel: string): Promise<PresenceEntry[]>;
  /**
   * addPresence, then the channel's entries (the new one included), read in the same atomic step:
   * of two connections joining at once on any nodes, exactly one sees the other. Costs a read of
   * every entry, so it is for small channels that need that (Pusher presence, 100 members).
   */
  joinPresence(channel: string, entry: PresenceEntry): Promise<PresenceEntry[]>;
  /** removePresence, then the entries left, read in the same atomic step (see joinPresence). */
  leavePresence(channel: string, connectionId: string): Promise<PresenceEntry[]>;
  /**
   * Counts `connectionId` as a connection of `user` (the contract's point 8); true when the user was
   * offline until now. `graceMs` is how long the user stays online once this was their last connection.
   */
  userConnect(user: string, connectionId: string, graceMs: number): Promise<boolean>;
  /** Takes back a connection counted by userConnect; nothing when it was not counted. */
  userDisconnect(connectionId: string): Promise<void>;
  /** The users whose offline deadline passed with no connection back, each handed to one caller only. */
  claimOffline(): Promise<string[]>;
  /** Records that `reader` handled `channel` up to `offset` in `epoch` (the contract's point 9); kept for `options.historyTtlMs`. */
  acknowledge(channel: string, reader: string, epoch: string, offset: number, options: StreamOptions): Promise<void>;
  /** The receipts of `channel` in `epoch`: every reader's, or the one of `reader`. */
  receipts(channel: string, epoch: string, reader?: string): Promise<Receipt[]>;
  /** Stores `payload` as item `id` of `queue`, due at `dueAt` (ms, engine clock); nothing when `id` is stored already (point 10). */
  schedule(queue: string, id: string, dueAt: number, payload: string): Promise<void>;
  /** Up to `limit` items of `queue` due now, each handed to one caller, due again after `leaseMs` unless completed. */
  claimDue(queue: string, limit: number, leaseMs: number): Promise<DueItem[]>;
  /** Removes a claimed item: it was handled. */
  completeDue(queue: string, id: string): Promise<void>;
  /** Asks every running node to handle a control request (any JSON value); see the contract's point 7. */
  survey(request: unknown): Promise<SurveyResult>;
  status(): EngineStatus;
}

/** A value as it arrives after JSON (undefined fields gone, dates as strings): what `survey` answers are. */
export function viaJson(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

/** What a client is told when the engine cannot be reached; the operator's details go in `detail`. */
export const ENGINE_UNAVAILABLE = "the engine is unavailable; retry shortly";
/** What a client is told when a publish's outcome is unknown. */
export const ENGINE_TIMEOUT = "the engine did not confirm the publish; it may or may not be stored";
