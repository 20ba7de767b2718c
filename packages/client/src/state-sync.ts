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
import type { ChannelState } from "./subscription.js";

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

/** @internal One handle's state sync. */
export class StateSync {
  readonly events = new Emitter<Record<string, unknown>>();
  private position: StreamPosition | undefined;
  /** Channel events held while the state loads or a gap is read from history. */
  private held: EventFrame[] | undefined = [];
  private failures = 0;
  /** Only the newest load's answer counts. */
  private loads = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly shared: ChannelState,
    private readonly getState: GetState,
    private readonly host: SyncHost,
  ) {
    this.stops.push(
      shared.emitter.on("*", (frame) => this.arrived(frame as EventFrame)),
      shared.emitter.on("recovery_failed", () => this.load("recovery_failed")),
    );
    this.load("subscribe");
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    for (const stop of this.stops) stop();
  }

  private arrived(frame: EventFrame): void {
    if (this.held) this.held.push(frame);
    else this.pass(frame);
  }

  /** Passes an event on unless the state has it already; a gap before it is read from history first. */
  private pass(frame: EventFrame): void {
    const at = this.position;
    if (at && at.epoch === frame.epoch) {
      if (frame.offset <= at.offset) return;
      if (frame.offset > at.offset + 1) {
        this.held = [frame];
        void this.fill(at);
        return;
      }
    }
    this.position = { epoch: frame.epoch, offset: frame.offset };
    this.events.emit(frame.type, frame);
    this.events.emit("*", frame);
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (let i = 0; i < held.length; i++) {
      if (this.disposed) return;
      this.pass(held[i]!);
      // A gap found on the way holds the rest behind it again.
      const again = this.held as EventFrame[] | undefined;
      if (again) {
        again.push(...held.slice(i + 1));
        return;
      }
    }
  }

  private load(reason: StateLoadedContext["reason"]): void {
    if (this.disposed) return;
    this.held ??= [];
    clearTimeout(this.retryTimer);
    const load = ++this.loads;
    void (async () => {
      let loaded: LoadedState;
      try {
        loaded = await this.getState();
      } catch (error) {
        if (this.disposed || load !== this.loads) return;
        const delay = backoffDelay(this.failures++, this.host.backoff);
        this.shared.emitter.emit("error", { channel: this.shared.channel, code: "get_state_failed", message: `getState failed: ${error instanceof Error ? error.message : String(error)}`, retryIn: delay });
        this.retryTimer = setTimeout(() => this.load(reason), delay);
        return;
      }
      if (this.disposed || load !== this.loads) return;
      this.failures = 0;
      const channelAt = this.shared.position;
      // A state from another epoch cannot be lined up with the stream: it stands for now.
      this.position = channelAt && channelAt.epoch !== loaded.position.epoch ? channelAt : loaded.position;
      this.host.loaded(loaded.position);
      this.events.emit("state_loaded", { channel: this.shared.channel, state: loaded.state, position: this.position, reason });
      this.release();
    })();
  }

  /** Reads the events after `from` from history, then passes the held ones; loads the state again if history lost them. */
  private async fill(from: StreamPosition): Promise<void> {
    try {
      const history = await this.host.history(this.shared.channel, from.offset);
      if (this.disposed) return;
      const progress = history.events.some((event) => event.offset > from.offset);
      if (history.epoch !== from.epoch || !history.complete || !progress) {
        this.load("gap");
        return;
      }
      const held = this.held ?? [];
      this.held = [...history.events, ...held];
      this.release();
    } catch {
      if (!this.disposed) this.load("gap");
    }
  }
}
