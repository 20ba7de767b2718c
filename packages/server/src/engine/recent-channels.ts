/**
 * The memory engine's index of the channels published to lately, per namespace: what
 * `channelsPublishedSince` answers from (engine.ts). A pattern names its namespace, so one
 * namespace's entries are all it looks at. Each namespace keeps its channels in the order of their
 * last publish (a Map entry moved to the end on every publish) and drops them from the oldest once
 * older than the namespace's history TTL, so it holds at most the channels published within it,
 * and a lookup stops at the first entry too old.
 */

import { channelMatches, namespaceOf, patternPrefix } from "@herald/protocol";

interface Namespace {
  ttlMs: number;
  /** Channel -> time of its last publish (ms), oldest first. */
  readonly channels: Map<string, number>;
}

export class RecentChannels {
  private readonly byNamespace = new Map<string, Namespace>();

  published(channel: string, time: number, ttlMs: number): void {
    const name = namespaceOf(channel);
    // No pattern can match a channel of the empty namespace (a pattern writes its namespace out).
    if (name === "") return;
    let namespace = this.byNamespace.get(name);
    if (!namespace) this.byNamespace.set(name, (namespace = { ttlMs, channels: new Map() }));
    namespace.ttlMs = ttlMs;
    namespace.channels.delete(channel);
    namespace.channels.set(channel, time);
    this.trim(name, namespace, time);
  }

  /** The channels matching `pattern` last published at or after `time`. */
  since(pattern: string, time: number, now: number): string[] {
    const name = namespaceOf(patternPrefix(pattern));
    const namespace = this.byNamespace.get(name);
    if (!namespace) return [];
    this.trim(name, namespace, now);
    const found: string[] = [];
    for (const [channel, at] of namespace.channels) if (at >= time && channelMatches(pattern, channel)) found.push(channel);
    return found;
  }

  private trim(name: string, namespace: Namespace, now: number): void {
    const cutoff = now - namespace.ttlMs;
    for (const [channel, at] of namespace.channels) {
      if (at > cutoff) break;
      namespace.channels.delete(channel);
    }
    if (namespace.channels.size === 0) this.byNamespace.delete(name);
  }
}
