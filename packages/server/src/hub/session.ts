/**
 * A session is one client connection, whatever carries it (WebSocket, SSE). The hub keeps its
 * subscriptions and delivers events to it; the transport decides how bytes reach the client.
 */

import type { EnvelopeName, ServerControlFrame } from "@herald/protocol";
import type { PreparedEvent } from "./prepared-event.js";
import type { Subscriber, Subscription } from "./subscription.js";
import { SubscriptionTable } from "./subscription-table.js";

export type TransportName = "websocket" | "sse" | "polling";

export interface SessionInfo {
  readonly id: string;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  /** ISO-8601. */
  readonly connectedAt: string;
}

export abstract class Session implements SessionInfo, Subscriber {
  readonly subscriptions = new SubscriptionTable();
  // Kept as a number and formatted when asked: a string per idle connection costs more than its use.
  private readonly connectedAtMs = Date.now();
  private identity: string | undefined;
  /** Called when the session first gets a user (the hub counts the user online then). */
  onIdentified: ((session: Session) => void) | undefined;
  closed = false;
  /**
   * Whether its client follows subscriptions the server adds or removes (server API `subscribe`,
   * `unsubscribe`): Herald's protocol does; a poll (no connection) and a Pusher client do not.
   */
  readonly followsServerSubscriptions: boolean = true;

  /** ISO-8601. */
  get connectedAt(): string {
    return new Date(this.connectedAtMs).toISOString();
  }

  constructor(
    readonly id: string,
    readonly transport: TransportName,
    readonly remoteAddress: string,
    readonly envelope: EnvelopeName,
  ) {}

  /** Whether events may reach this client as deltas (event-delta.ts), when its subscribe asks for them. */
  get takesDeltas(): boolean {
    return false;
  }

  /** The user this connection acts for, once known (token `sub`, or a route parameter). */
  get user(): string | undefined {
    return this.identity;
  }

  set user(user: string | undefined) {
    const first = this.identity === undefined && user !== undefined;
    this.identity = user;
    if (first) this.onIdentified?.(this);
  }

  /** Sends one event; `subscription` has already checked order and duplicates. */
  abstract deliver(event: PreparedEvent, subscription: Subscription): void;

  /** Sends a control frame (subscribed, error, ...). */
  abstract sendFrame(frame: ServerControlFrame): void;

  /** Resolves once the transport can take more data without growing its queue unboundedly. */
  abstract drained(): Promise<void>;

  /** Whether the transport's queue is long enough that a bulk sender should wait for `drained()`. */
  abstract get congested(): boolean;

  /** Ends the session from the server side. */
  abstract close(code: number, reason: string): void;
}
