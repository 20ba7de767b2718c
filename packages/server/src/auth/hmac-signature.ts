/**
 * HMAC-signed publish requests (and history/presence reads), for backends that should not send a
 * reusable bearer key:
 *
 *   X-Herald-Key-Id:    the key's id (publish.hmacKeys[].id)
 *   X-Herald-Timestamp: Unix time in seconds
 *   X-Herald-Signature: hex(HMAC-SHA256(secret, timestamp + "." + rawBody))
 *
 * A timestamp outside `publish.replayWindow` is refused (`stale_request`), and so is a signature
 * already accepted (`replayed_request`). A signature is remembered for as long as its timestamp is
 * acceptable, up to one window after the timestamp (which may itself lie up to one window ahead of
 * the clock), so a captured request is accepted at most once, ever. The comparison is constant-time.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { HeraldConfig } from "../config/schema.js";
import { HeraldError } from "../shared/herald-error.js";

// Signatures remembered for replay detection. Forgetting one early would reopen it to replay, so
// when this many are still live, new signed requests are refused until some leave the window.
const MAX_REMEMBERED = 100_000;

export class HmacVerifier {
  private readonly secrets: Map<string, string>;
  /** Accepted replay keys by their timestamp (Unix seconds): a whole bucket leaves the window at once. */
  private readonly seen = new Map<number, Set<string>>();
  private remembered = 0;
  private nextSweep = 0;

  constructor(private readonly config: HeraldConfig["publish"]) {
    this.secrets = new Map(config.hmacKeys.map((key) => [key.id, key.secret]));
  }

  get configured(): boolean {
    return this.secrets.size > 0;
  }

  static isSigned(headers: IncomingHttpHeaders): boolean {
    return headers["x-herald-signature"] !== undefined;
  }

  /**
   * Verifies a signed request; returns the key id and the signature's replay key, or throws HeraldError
   * with a code saying what is wrong. Call `claim` once the request is not an idempotent retry.
   */
  verify(headers: IncomingHttpHeaders, rawBody: string, now = Date.now()): { keyId: string; replayKey: string } {
    const keyId = header(headers, "x-herald-key-id");
    const timestamp = header(headers, "x-herald-timestamp");
    const signature = header(headers, "x-herald-signature");
    if (!keyId || !timestamp || !signature) {
      throw new HeraldError("invalid_signature", "a signed request needs X-Herald-Key-Id, X-Herald-Timestamp and X-Herald-Signature");
    }
    const secret = this.secrets.get(keyId);
    if (secret === undefined) throw new HeraldError("invalid_signature", "unknown X-Herald-Key-Id");
    if (!/^\d{1,12}$/.test(timestamp)) throw new HeraldError("invalid_signature", "X-Herald-Timestamp must be Unix time in seconds");
    const skew = Math.abs(now - Number(timestamp) * 1000);
    if (skew > this.config.replayWindow) {
      throw new HeraldError("stale_request", `X-Herald-Timestamp is ${Math.round(skew / 1000)}s away from the server's clock; the window is ${Math.round(this.config.replayWindow / 1000)}s`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(signature)) throw new HeraldError("invalid_signature", "X-Herald-Signature must be 64 hex digits (HMAC-SHA256)");
    const expected = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) throw new HeraldError("invalid_signature", "the signature does not match the body and timestamp");
    return { keyId, replayKey: `${Number(timestamp)}:${keyId}:${signature.toLowerCase()}` };
  }

  /**
   * Records a verified signature (the `replayKey` from `verify`); throws `replayed_request` when it
   * was accepted before, and `rate_limited` when the memory is full of signatures still in their window.
   */
  claim(replayKey: string, now = Date.now()): void {
    this.forgetExpired(now);
    const timestamp = Number(replayKey.slice(0, replayKey.indexOf(":")));
    const bucket = this.seen.get(timestamp);
    if (bucket?.has(replayKey)) throw new HeraldError("replayed_request", "this signed request was already accepted; sign a new one");
    if (this.remembered >= MAX_REMEMBERED) {
      throw new HeraldError("rate_limited", `${MAX_REMEMBERED} signed requests are within the replay window; retry in a few seconds`);
    }
    if (bucket) bucket.add(replayKey);
    else this.seen.set(timestamp, new Set([replayKey]));
    this.remembered += 1;
  }

  private forgetExpired(now: number): void {
    // At most once a second: buckets are whole seconds, so sweeping more often frees nothing more.
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1000;
    for (const [timestamp, bucket] of this.seen) {
      if (timestamp * 1000 + this.config.replayWindow >= now) continue;
      this.seen.delete(timestamp);
      this.remembered -= bucket.size;
    }
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
