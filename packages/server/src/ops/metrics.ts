/**
 * Prometheus metrics. The hot path only bumps plain integers in HubStats; these collectors read
 * them at scrape time, so a delivery never touches a label map.
 */

import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import type { TransportName } from "../hub/session.js";
import { LATENCY_BUCKETS, type NamespaceFigures } from "../hub/namespace-figures.js";

const TRANSPORTS: TransportName[] = ["websocket", "sse", "polling"];

export class Metrics {
  readonly registry = new Registry();

  constructor(hub: Hub, stats: HubStats, node: string) {
    this.registry.setDefaultLabels({ node });
    collectDefaultMetrics({ register: this.registry, prefix: "herald_process_" });

    const counterFrom = (name: string, help: string, read: () => number): void => {
      let reported = 0;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const now = read();
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    };

    new Gauge({
      name: "herald_connections",
      help: "Open client connections by transport.",
      labelNames: ["transport"],
      registers: [this.registry],
      collect() {
        const counts = hub.counts();
        for (const transport of TRANSPORTS) this.set({ transport }, counts.byTransport[transport]);
      },
    });
    new Gauge({
      name: "herald_subscriptions",
      help: "Subscriptions held by connections on this node.",
      registers: [this.registry],
      collect() {
        this.set(hub.counts().subscriptions);
      },
    });
    new Gauge({
      name: "herald_channels",
      help: "Channels with at least one subscriber or waiter on this node.",
      registers: [this.registry],
      collect() {
        this.set(hub.counts().channels);
      },
    });
    counterFrom("herald_events_published_total", "Events accepted for publishing on this node.", () => stats.eventsPublished);
    counterFrom("herald_events_delivered_total", "Event frames sent to subscribers by this node.", () => stats.eventsDelivered);
    counterFrom("herald_acks_total", "Acknowledgements (receipts) stored from clients of this node.", () => stats.acksCounted);
    counterFrom("herald_acks_ignored_total", "Acknowledgements ignored: for a channel the connection is not subscribed to, an offset beyond what it was sent, or a namespace without receipts.", () => stats.acksIgnored);
    counterFrom("herald_slow_consumer_disconnects_total", "Connections closed because their send queue passed the cap.", () => stats.slowConsumerDisconnects);

    const bytesReported: Record<TransportName, number> = { websocket: 0, sse: 0, polling: 0 };
    new Counter({
      name: "herald_bytes_sent_total",
      help: "Bytes of frames sent to clients, by transport.",
      labelNames: ["transport"],
      registers: [this.registry],
      collect() {
        for (const transport of TRANSPORTS) {
          const now = stats.bytesSent[transport];
          if (now > bytesReported[transport]) this.inc({ transport }, now - bytesReported[transport]);
          bytesReported[transport] = now;
        }
      },
    });
    const perNamespace = (name: string, help: string, read: (figures: NamespaceFigures) => number): void => {
      const reported = new Map<string, number>();
      new Counter({
        name,
        help,
        labelNames: ["namespace"],
        registers: [this.registry],
        collect() {
          for (const [namespace, figures] of stats.namespaces.entries()) {
            const now = read(figures);
            const before = reported.get(namespace) ?? 0;
            if (now > before) this.inc({ namespace }, now - before);
            reported.set(namespace, now);
          }
        },
      });
    };
    perNamespace("herald_namespace_events_published_total", "Events accepted for publishing on this node, by namespace.", (f) => f.published);
    perNamespace("herald_namespace_events_delivered_total", "Event frames sent to subscribers by this node, by namespace.", (f) => f.delivered);
    perNamespace("herald_namespace_bytes_sent_total", "Bytes of the event frames this node sent, as each subscriber received them (its envelope and encoding, deltas at their own size), by namespace.", (f) => f.bytesSent);
    perNamespace("herald_namespace_slow_consumer_disconnects_total", "Connections closed as slow consumers while receiving an event of the namespace.", (f) => f.slowConsumerDisconnects);
    const recoveries = new Map<string, number>();
    new Counter({
      name: "herald_namespace_recoveries_total",
      help: "Subscriptions that asked to resume with since, by namespace and outcome (recovered, not_recovered).",
      labelNames: ["namespace", "outcome"],
      registers: [this.registry],
      collect() {
        for (const [namespace, figures] of stats.namespaces.entries()) {
          for (const [outcome, now] of [["recovered", figures.recovered], ["not_recovered", figures.notRecovered]] as const) {
            const key = `${namespace}\n${outcome}`;
            const before = recoveries.get(key) ?? 0;
            if (now > before) this.inc({ namespace, outcome }, now - before);
            recoveries.set(key, now);
          }
        }
      },
    });
    this.registry.registerMetric(latencyHistogram(stats) as never);

    const errorsReported = new Map<string, number>();
    new Counter({
      name: "herald_errors_total",
      help: "Errors answered to clients, by error code.",
      labelNames: ["code"],
      registers: [this.registry],
      collect() {
        for (const [code, now] of stats.errorsByCode) {
          const before = errorsReported.get(code) ?? 0;
          if (now > before) this.inc({ code }, now - before);
          errorsReported.set(code, now);
        }
      },
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * herald_namespace_delivery_latency_seconds: the hub keeps plain bucket counts (one observation per
 * event and node, never per socket), and this reads them at scrape time in Prometheus' histogram
 * shape, which prom-client's own Histogram cannot be given.
 */
function latencyHistogram(stats: HubStats) {
  const name = "herald_namespace_delivery_latency_seconds";
  return {
    name,
    help: "Seconds from the engine accepting an event to this node writing its frames to the subscribers' sockets, by namespace.",
    type: "histogram",
    aggregator: "sum",
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const [namespace, figures] of stats.namespaces.entries()) {
        if (figures.latencyCount === 0) continue;
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((bound, i) => {
          cumulative += figures.latencyBuckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: bound, namespace }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", namespace }, value: figures.latencyCount });
        values.push({ metricName: `${name}_sum`, labels: { namespace }, value: figures.latencySum });
        values.push({ metricName: `${name}_count`, labels: { namespace }, value: figures.latencyCount });
      }
      return { name, help: this.help, type: "histogram", aggregator: "sum", values };
    },
    reset() {
      // Scrapes read running totals, as the counters above do; nothing to reset.
    },
  };
}
