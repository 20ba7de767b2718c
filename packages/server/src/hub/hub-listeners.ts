/**
 * What the hub tells observers: events it published, channels gaining their first local holder
 * or losing their last, and presence joins and leaves. Sources (lazy bridges) and sinks (email,
 * webhooks) listen here instead of reaching into the hub.
 *
 * Invariants: listeners are called synchronously, after the fact, and can never delay or fail
 * the operation that caused them: a throwing listener is swallowed (a listener logs its own
 * problems). A listener that has slow work to do queues it and returns at once.
 * Everything here is local to this node: with several nodes each node reports its own holders;
 * `user` changes are cluster-wide, each reported by one node.
 */

import type { StreamEvent } from "../engine/engine.js";

export interface ChannelChange {
  readonly channel: string;
  /** true: the first local subscriber or long-poll waiter arrived; false: the last one left. */
  readonly occupied: boolean;
}

export interface PresenceChange {
  readonly channel: string;
  readonly connectionId: string;
  readonly user?: string;
  /** true: joined (subscribed in a presence namespace); false: left. */
  readonly joined: boolean;
}

/** A user went online (first connection, cluster-wide) or offline (last one gone, grace passed). */
export interface UserChange {
  readonly user: string;
  readonly online: boolean;
  /** ISO-8601, when this node learned it. */
  readonly at: string;
}

export interface HubListenerMap {
  /** An event the hub published (from this node), after the engine accepted it. */
  published: StreamEvent;
  channel: ChannelChange;
  presence: PresenceChange;
  /** Reported by exactly one node of the cluster per change (see online-users.ts). */
  user: UserChange;
}

export class HubListeners {
  private readonly sets: { [K in keyof HubListenerMap]: Set<(value: HubListenerMap[K]) => void> } = {
    published: new Set(),
    channel: new Set(),
    presence: new Set(),
    user: new Set(),
  };

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof HubListenerMap>(name: K, listener: (value: HubListenerMap[K]) => void): () => void {
    const set = this.sets[name] as Set<(value: HubListenerMap[K]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof HubListenerMap>(name: K, value: HubListenerMap[K]): void {
    for (const listener of this.sets[name] as Set<(value: HubListenerMap[K]) => void>) {
      try {
        listener(value);
      } catch {
        // A listener must not break the hub; it reports its own failures.
      }
    }
  }
}
