/**
 * Figures per namespace (the part of a channel before its first `:`), for /metrics. Counted once
 * per event on this node, never per socket, so the fan-out loop stays as it is.
 *
 * Label cardinality is bounded: the configured namespaces keep their names, the first
 * UNCONFIGURED_LABELS others seen get theirs, and the rest share `other` (a client can invent
 * namespaces by subscribing; the metrics must not grow with it).
 */

import { namespaceOf } from "@herald/protocol";

export const UNCONFIGURED_LABELS = 32;
export const OTHER_NAMESPACES = "other";
/** The label of channels without a `:` (the default namespace). */
export const DEFAULT_NAMESPACE = "default";
/** Upper bounds (seconds) of the publish→deliver latency buckets; the last bucket is +Inf. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

export class NamespaceFigures {
  published = 0;
  /** Event frames sent to subscribers (live and replayed). */
  delivered = 0;
  /** Bytes of those frames, as the Herald envelope encodes them. */
  bytesSent = 0;
  recovered = 0;
  notRecovered = 0;
  slowConsumerDisconnects = 0;
  /**
   * Seconds from the engine's acceptance of each event (its `time`) to its frames being written on
   * this node, one observation per event and node: counts per bucket (not cumulative; the last is
   * +Inf), their sum and count.
   */
  readonly latencyBuckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  latencySum = 0;
  latencyCount = 0;

  observeLatency(seconds: number): void {
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket += 1;
    this.latencyBuckets[bucket]! += 1;
    this.latencySum += seconds;
    this.latencyCount += 1;
  }
}

export class NamespaceTable {
  private readonly figures = new Map<string, NamespaceFigures>();
  private readonly labels = new Map<string, string>();
  private unconfiguredSeen = 0;

  constructor(private readonly configured: ReadonlySet<string>) {}

  /** The figures a channel's events count in. */
  of(channel: string): NamespaceFigures {
    const label = this.labelOf(namespaceOf(channel));
    let figures = this.figures.get(label);
    if (!figures) this.figures.set(label, (figures = new NamespaceFigures()));
    return figures;
  }

  entries(): IterableIterator<[string, NamespaceFigures]> {
    return this.figures.entries();
  }

  private labelOf(namespace: string): string {
    let label = this.labels.get(namespace);
    if (label !== undefined) return label;
    if (namespace === "") label = DEFAULT_NAMESPACE;
    else if (this.configured.has(namespace)) label = namespace;
    else if (this.unconfiguredSeen < UNCONFIGURED_LABELS) {
      label = namespace;
      this.unconfiguredSeen += 1;
    } else return OTHER_NAMESPACES;
    this.labels.set(namespace, label);
    return label;
  }
}
