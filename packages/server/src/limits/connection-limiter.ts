/**
 * Connection limits for long-lived transports (WebSocket, SSE): a node-wide cap, a cap per client
 * IP, and a token bucket per IP on new connections. A refused connection is answered before the
 * WebSocket upgrade (HTTP 429, code `too_many_connections`), so it never costs a session.
 */

import type { HeraldConfig } from "../config/schema.js";
import type { LimitHits, LimitName } from "./limit-hits.js";
import { TokenBucket } from "./token-bucket.js";

/** A connection's place in the limits, given back once with `release` when it closes. */
export interface AdmissionSlot {
  release(): void;
}

export type Admission = { ok: true; slot: AdmissionSlot } | { ok: false; limit: LimitName; message: string };

/**
 * An object rather than a closure: every idle connection holds one, and a closure with its
 * context costs about 110 bytes of heap against about 30.
 */
class HeldSlot implements AdmissionSlot {
  private released = false;

  constructor(
    private readonly limiter: ConnectionLimiter,
    private readonly ip: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.leave(this.ip);
  }
}

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

  /** Admits one connection from `ip`, or says which limit refuses it. Release its slot when it closes. */
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
    return { ok: true, slot: new HeldSlot(this, ip) };
  }

  /** A connection from `ip` closed (through its slot, once). */
  leave(ip: string): void {
    this.total -= 1;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
