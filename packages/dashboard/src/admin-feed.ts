/**
 * The page's connection to `GET /api/admin/events` (Server-Sent Events, carrying the admin cookie).
 * EventSource reconnects by itself after a drop (the server sends `retry: 1000`); when the browser
 * gives up (an HTTP error such as 401), this reconnects with capped exponential backoff.
 * Every state change goes through `setState`, which tells listeners the old and new state.
 */

import { backoffDelay, type BackoffOptions } from "@herald/protocol";
import type { FeedEvent } from "./feed-event";

const RECONNECT_BACKOFF: BackoffOptions = { minDelay: 500, maxDelay: 15_000, factor: 2 };

export type FeedState = "connecting" | "live" | "reconnecting";

export interface FeedStatus {
  readonly state: FeedState;
  readonly node?: string;
  readonly version?: string;
  /** Times the feed came back after a drop. */
  readonly reconnects: number;
  /** Events the server dropped because this page read too slowly. */
  readonly dropped: number;
}

export class AdminFeed {
  private source: EventSource | undefined;
  private status: FeedStatus = { state: "connecting", reconnects: 0, dropped: 0 };
  private readonly listeners = new Set<() => void>();
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wasLive = false;

  constructor(private readonly url: string, private readonly onEvent: (event: FeedEvent) => void) {}

  start(): void {
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("hello", (message) => {
      const hello = JSON.parse((message as MessageEvent<string>).data) as { node: string; version: string };
      this.attempts = 0;
      this.setState({ state: "live", node: hello.node, version: hello.version, reconnects: this.status.reconnects + (this.wasLive ? 1 : 0) });
      this.wasLive = true;
    });
    source.addEventListener("dropped", (message) => {
      const { count } = JSON.parse((message as MessageEvent<string>).data) as { count: number };
      this.setState({ dropped: this.status.dropped + count });
    });
    source.onmessage = (message) => this.onEvent(JSON.parse(message.data) as FeedEvent);
    source.onerror = () => {
      this.setState({ state: "reconnecting" });
      if (source.readyState === EventSource.CLOSED) {
        const delay = backoffDelay(this.attempts++, RECONNECT_BACKOFF);
        this.timer = setTimeout(() => this.start(), delay);
      }
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.source?.close();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getStatus = (): FeedStatus => this.status;

  private setState(change: Partial<FeedStatus>): void {
    this.status = { ...this.status, ...change };
    for (const listener of this.listeners) listener();
  }
}
