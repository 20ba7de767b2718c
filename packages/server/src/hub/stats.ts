/** Plain counters the hot path bumps; metrics and /api/status read them when asked. */

import type { TransportName } from "./session.js";

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

  countError(code: string): void {
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }
}
