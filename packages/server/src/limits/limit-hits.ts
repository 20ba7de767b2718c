/** Counts refusals by limit, read by the `herald_limit_hits_total{limit}` metric. */

import { Counter, type Registry } from "prom-client";

export type LimitName =
  | "connections"
  | "connections_per_ip"
  | "connection_rate"
  | "frame_rate"
  | "frame_size"
  | "handshake_timeout"
  | "subscriptions"
  | "publish_body";

export class LimitHits {
  readonly counts = new Map<LimitName, number>();

  hit(limit: LimitName): void {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
  }

  /**
   * Registers the counter. Limits that already answer with their own error code (subscriptions,
   * publish body, frame size) are read from the error counts, so they are counted in one place.
   */
  register(registry: Registry, errorsByCode: ReadonlyMap<string, number>): void {
    const reported = new Map<string, number>();
    const counts = this.counts;
    new Counter({
      name: "herald_limit_hits_total",
      help: "Requests, connections and frames refused because a limit was reached, by limit.",
      labelNames: ["limit"],
      registers: [registry],
      collect() {
        const current = new Map<string, number>(counts);
        current.set("subscriptions", errorsByCode.get("too_many_subscriptions") ?? 0);
        current.set("publish_body", errorsByCode.get("payload_too_large") ?? 0);
        for (const [limit, now] of current) {
          const before = reported.get(limit) ?? 0;
          if (now > before) this.inc({ limit }, now - before);
          else if (before === 0) this.inc({ limit }, 0);
          reported.set(limit, now);
        }
      },
    });
  }
}
