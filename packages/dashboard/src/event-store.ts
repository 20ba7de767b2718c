/**
 * The events the stream shows, newest first, at most `limit` of them.
 *
 * Events arrive as fast as the hub publishes (thousands a second); the page re-renders at most
 * once per animation frame: `add` only queues, and one requestAnimationFrame callback moves the
 * queue into the list and tells subscribers. While paused, arrivals wait in the queue (bounded
 * by the same limit, oldest dropped) and the list stays still until `resume`.
 */

import type { FeedEvent, ShownEvent } from "./feed-event";

export interface StoreSnapshot {
  readonly events: readonly ShownEvent[];
  /** Events waiting while paused. */
  readonly waiting: number;
  readonly paused: boolean;
  /** All events received since the page opened. */
  readonly received: number;
}

export class EventStore {
  private events: ShownEvent[] = [];
  private queue: ShownEvent[] = [];
  private seq = 0;
  private frame: number | undefined;
  private readonly listeners = new Set<() => void>();
  private snapshot: StoreSnapshot = { events: [], waiting: 0, paused: false, received: 0 };
  readonly types = new Set<string>();

  constructor(readonly limit = 1000) {}

  add(event: FeedEvent): void {
    this.types.add(event.type);
    this.queue.push({ seq: ++this.seq, event, dataText: JSON.stringify(event.data) ?? "undefined" });
    if (this.queue.length > this.limit) this.queue.splice(0, this.queue.length - this.limit);
    this.schedule();
  }

  pause(): void {
    this.snapshot = { ...this.snapshot, paused: true };
    this.notify();
  }

  resume(): void {
    this.snapshot = { ...this.snapshot, paused: false };
    this.schedule();
    this.notify();
  }

  clear(): void {
    this.events = [];
    this.queue = [];
    this.snapshot = { ...this.snapshot, events: [], waiting: 0 };
    this.notify();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): StoreSnapshot => this.snapshot;

  private schedule(): void {
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const { paused } = this.snapshot;
    if (!paused && this.queue.length > 0) {
      const arrived = this.queue.reverse();
      this.queue = [];
      this.events = arrived.length >= this.limit ? arrived.slice(0, this.limit) : arrived.concat(this.events.slice(0, this.limit - arrived.length));
    }
    this.snapshot = { events: this.events, waiting: paused ? this.queue.length : 0, paused, received: this.seq };
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
