/**
 * The pattern subscriptions of a node, found per event without looking at each: they are grouped
 * by their literal prefix (the part before the first `*`, which starts with the namespace), then
 * by pattern, so an event costs one `startsWith` per distinct prefix and one match per distinct
 * pattern under it, whatever the number of sessions that share them.
 */

import { channelMatches, patternPrefix } from "@herald/protocol";
import type { PatternSubscription } from "./pattern-subscription.js";

export class PatternIndex {
  private readonly byPrefix = new Map<string, Map<string, Set<PatternSubscription>>>();
  /** How many pattern subscriptions the node holds; the fan-out looks at the index only when it is not 0. */
  size = 0;

  add(subscription: PatternSubscription): void {
    const prefix = patternPrefix(subscription.pattern);
    let patterns = this.byPrefix.get(prefix);
    if (!patterns) this.byPrefix.set(prefix, (patterns = new Map()));
    let subscriptions = patterns.get(subscription.pattern);
    if (!subscriptions) patterns.set(subscription.pattern, (subscriptions = new Set()));
    if (subscriptions.has(subscription)) return;
    subscriptions.add(subscription);
    this.size += 1;
  }

  delete(subscription: PatternSubscription): void {
    const prefix = patternPrefix(subscription.pattern);
    const patterns = this.byPrefix.get(prefix);
    const subscriptions = patterns?.get(subscription.pattern);
    if (!patterns || !subscriptions?.delete(subscription)) return;
    this.size -= 1;
    if (subscriptions.size > 0) return;
    patterns.delete(subscription.pattern);
    if (patterns.size === 0) this.byPrefix.delete(prefix);
  }

  /** The pattern subscriptions whose pattern matches the channel. */
  matching(channel: string): PatternSubscription[] {
    const found: PatternSubscription[] = [];
    for (const [prefix, patterns] of this.byPrefix) {
      if (!channel.startsWith(prefix)) continue;
      for (const [pattern, subscriptions] of patterns) if (channelMatches(pattern, channel)) found.push(...subscriptions);
    }
    return found;
  }
}
