/**
 * Connection limits for long-lived transports (WebSocket, SSE): a node-wide cap, a cap per client
 * IP, and a token bucket per IP on new connections. A refused connection is answered before the
 * WebSocket upgrade (HTTP 429, code `too_many_connections`), so it never costs a session.
 */

import type { HeraldConfig } from "../config/schema.js";
import type { LimitHits, LimitName } from "./limit-hits.js";
import { TokenBucket } from "./token-bucket.js";

export type Admission = { ok: true; release: () => void } | { ok: false; limit: LimitName; message: string };

export class ConnectionLimiter {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly rates = new Map<string, TokenBucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limits: HeraldConfig["limits"],
    private readonly hits: LimitHits,
  ) {
    // Forget full buckets so that the map holds only IPs that connected recently.
    this.sweeper = setInterval(() => {
      for (const [ip, bucket] of this.rates) if (bucket.idle()) this.rates.delete(ip);
    }, 10_000);
    this.sweeper.unref();
  }

  /** Admits one connection from `ip`, or says which limit refuses it. Call `release` when it closes. */
  admit(ip: string): Admission {
    const refuse = (limit: LimitName, message: string): Admission => {
      this.hits.hit(limit);
      return { ok: false, limit, message };
    };
    if (this.total >= this.limits.maxConnections) return refuse("connections", "this node holds its maximum of connections; retry later or on another node");
    const held = this.perIp.get(ip) ?? 0;
    if (held >= this.limits.maxConnectionsPerIp) return refuse("connections_per_ip", `at most ${this.limits.maxConnectionsPerIp} connections per address; close some first`);
    let bucket = this.rates.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.connectionRatePerIp, this.limits.connectionBurstPerIp);
      this.rates.set(ip, bucket);
    }
    if (!bucket.take()) return refuse("connection_rate", "new connections from this address come too fast; retry with backoff");
    this.total += 1;
    this.perIp.set(ip, held + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      },
    };
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
