/** Plain counters the hot path bumps; metrics and /api/status read them when asked. */

import type { TransportName } from "./session.js";
import { NamespaceTable } from "./namespace-figures.js";

export class HubStats {
  readonly startedAt = Date.now();
  eventsPublished = 0;
  eventsDelivered = 0;
  slowConsumerDisconnects = 0;
  /** Acknowledgements stored, and those ignored (not subscribed, beyond what was sent, receipts off). */
  acksCounted = 0;
  acksIgnored = 0;
  readonly bytesSent: Record<TransportName, number> = { websocket: 0, sse: 0, polling: 0 };
  readonly deliveredBy: Record<TransportName, number> = { websocket: 0, sse: 0, polling: 0 };
  readonly errorsByCode = new Map<string, number>();
  readonly namespaces: NamespaceTable;

  /** `configuredNamespaces`: the names from the config, which always get their own label. */
  constructor(configuredNamespaces: Iterable<string> = []) {
    this.namespaces = new NamespaceTable(new Set(configuredNamespaces));
  }

  countError(code: string): void {
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }
}
