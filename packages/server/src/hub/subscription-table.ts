/**
 * A session's subscriptions by channel, with the part of Map's interface the server uses. Most
 * connections hold one subscription: it is kept in two fields, and a Map is made only for a
 * second. An idle connection's Map and its hash table cost about 180 bytes of heap, as much as
 * the session itself.
 */

import type { Subscription } from "./subscription.js";

export class SubscriptionTable {
  private channel: string | undefined;
  private only: Subscription | undefined;
  private map: Map<string, Subscription> | undefined;

  get size(): number {
    if (this.map) return this.map.size;
    return this.only === undefined ? 0 : 1;
  }

  get(channel: string): Subscription | undefined {
    if (this.map) return this.map.get(channel);
    return channel === this.channel ? this.only : undefined;
  }

  has(channel: string): boolean {
    return this.get(channel) !== undefined;
  }

  set(channel: string, subscription: Subscription): void {
    if (this.map) {
      this.map.set(channel, subscription);
      return;
    }
    if (this.only === undefined || this.channel === channel) {
      this.channel = channel;
      this.only = subscription;
      return;
    }
    this.map = new Map([
      [this.channel!, this.only],
      [channel, subscription],
    ]);
    this.channel = undefined;
    this.only = undefined;
  }

  delete(channel: string): boolean {
    if (this.map) return this.map.delete(channel);
    if (this.only === undefined || channel !== this.channel) return false;
    this.channel = undefined;
    this.only = undefined;
    return true;
  }

  /** The channels, in the order they were subscribed. */
  keys(): IterableIterator<string> {
    if (this.map) return this.map.keys();
    return (this.only === undefined ? [] : [this.channel!]).values();
  }
}
