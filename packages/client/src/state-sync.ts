/**
 * State without a gap: a subscription handle given `getState` keeps its own position, that of the
 * state the app loaded, and passes on exactly the channel events after it.
 *
 * - The app's `getState()` answers its state and the stream position that state reflects (the
 *   position a publish answered, stored beside the data). The handle drops every event at or
 *   below that position: those are in the state already.
 * - A channel the handle makes is subscribed from that position (`since`), so what was published
 *   between the state read and the subscription is replayed by the server (see Herald.subscribe).
 * - A channel already held further on than the loaded state (another handle made it) shows a gap
 *   at the next event: the handle reads the missing events from history over HTTP, holding live
 *   ones meanwhile, then goes on. A gap that history cannot fill loads the state again.
 * - When the channel's recovery fails (`recovered: false`) the handle calls `getState` again by
 *   itself, holding the events that arrive meanwhile; a state whose position is in another epoch
 *   than the channel's (the backend has not published since the Herald lost its history) is taken
 *   as the state of now.
 * - A failing `getState` is retried with the client's backoff; each failure is an `error` event
 *   with code `get_state_failed`.
 */

import { backoffDelay, type BackoffOptions, type EventFrame, type StreamPosition } from "@herald/protocol";
import { Emitter } from "./emitter.js";
import type { ChannelState, RecoveryFailedContext } from "./subscription.js";

/** What `getState` answers: the app's state and the stream position it reflects. */
export interface LoadedState<S = unknown> {
  state: S;
  position: StreamPosition;
}

export type GetState<S = unknown> = () => LoadedState<S> | Promise<LoadedState<S>>;

/** A `state_loaded` event: the state to start from; the channel events that follow come after `position`. */
export interface StateLoadedContext<S = unknown> {
  channel: string;
  state: S;
  /** The position the state reflects (the loaded one, or the channel's when the loaded one was in another epoch). */
  position: StreamPosition;
  /** Why it was loaded: the subscription started, the channel's recovery failed, or history could not fill a gap. */
  reason: "subscribe" | "recovery_failed" | "gap";
}

/** @internal What a sync needs from the client. */
export interface SyncHost {
  history(channel: string, since: number): Promise<{ epoch: string; complete: boolean; events: EventFrame[] }>;
  backoff: BackoffOptions;
  /** The first state loaded for a channel waiting for it (see Herald.subscribe). */
  loaded(position: StreamPosition): void;
}

/** @internal One handle's state sync: `events` carries `state_loaded` and the events after the state. */
export interface StateSync {
  readonly events: Emitter<Record<string, unknown>>;
  dispose(): void;
}

/** @internal Written as a closure, not a class: its names minify, which keeps the client small. */
export function syncState(shared: ChannelState, getState: GetState, host: SyncHost, events = new Emitter<Record<string, unknown>>()): StateSync {
  let position: StreamPosition | undefined;
  /** Channel events held while the state loads or a gap is read from history. */
  let held: EventFrame[] | undefined = [];
  let failures = 0;
  /** Only the newest load's answer counts. */
  let loads = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  /** Where the channel's subscription started after its last failed recovery. */
  let restart: StreamPosition | undefined;

  /** Passes an event on unless the state has it already; a gap before it is read from history first. */
  const pass = (frame: EventFrame): void => {
    if (position && position.epoch === frame.epoch) {
      if (frame.offset <= position.offset) return;
      if (frame.offset > position.offset + 1) {
        held = [frame];
        void fill(position);
        return;
      }
    }
    position = { epoch: frame.epoch, offset: frame.offset };
    events.emit(frame.type, frame);
    events.emit("*", frame);
  };

  const release = (): void => {
    const list = held ?? [];
    held = undefined;
    for (let i = 0; i < list.length && !disposed; i++) {
      pass(list[i]!);
      // A gap found on the way holds the rest behind it again.
      const again = held as EventFrame[] | undefined;
      if (again) return void again.push(...list.slice(i + 1));
    }
  };

  const load = async (reason: StateLoadedContext["reason"]): Promise<void> => {
    held ??= [];
    clearTimeout(retryTimer);
    const mine = ++loads;
    let loaded: LoadedState;
    try {
      loaded = await getState();
    } catch (error) {
      if (disposed || mine !== loads) return;
      const retryIn = backoffDelay(failures++, host.backoff);
      shared.emitter.emit("error", { channel: shared.channel, code: "get_state_failed", message: `getState failed: ${error instanceof Error ? error.message : String(error)}`, retryIn });
      retryTimer = setTimeout(() => void load(reason), retryIn);
      return;
    }
    if (disposed || mine !== loads) return;
    failures = 0;
    // A state from another epoch cannot be lined up with the stream: it stands for the point
    // where the subscription was made after the failed recovery (else for now), and the events
    // after that point follow.
    const channelAt = shared.position;
    const at = restart && restart.epoch === channelAt?.epoch ? restart : channelAt;
    position = at && at.epoch !== loaded.position.epoch ? at : loaded.position;
    host.loaded(loaded.position);
    events.emit("state_loaded", { channel: shared.channel, state: loaded.state, position, reason });
    release();
    catchUp();
  };

  /** A state behind where the channel already is reads the difference from history, without waiting for the next event. */
  const catchUp = (): void => {
    const channelAt = shared.position;
    if (held || !position || !channelAt || channelAt.epoch !== position.epoch || channelAt.offset <= position.offset) return;
    held = [];
    void fill(position);
  };

  /** Reads the events after `from` from history, then passes the held ones; loads the state again if history lost them. */
  const fill = async (from: StreamPosition): Promise<void> => {
    try {
      const history = await host.history(shared.channel, from.offset);
      if (disposed) return;
      if (history.epoch !== from.epoch || !history.complete || !history.events.some((event) => event.offset > from.offset)) return void load("gap");
      held = [...history.events, ...(held ?? [])];
      release();
    } catch {
      if (!disposed) void load("gap");
    }
  };

  const stops = [shared.emitter.on("*", (frame) => (held ? held.push(frame as EventFrame) : pass(frame as EventFrame))), shared.emitter.on("recovery_failed", (context) => {
      const failed = context as RecoveryFailedContext;
      restart = { epoch: failed.epoch, offset: failed.offset };
      void load("recovery_failed");
    }), shared.emitter.on("subscribed", catchUp)];
  void load("subscribe");
  return {
    events,
    dispose() {
      disposed = true;
      clearTimeout(retryTimer);
      for (const stop of stops) stop();
    },
  };
}
