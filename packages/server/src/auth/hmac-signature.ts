/**
 * HMAC-signed publish requests, for backends that should not send a reusable bearer key:
 *
 *   X-Herald-Key-Id:    the key's id (publish.hmacKeys[].id)
 *   X-Herald-Timestamp: Unix time in seconds
 *   X-Herald-Signature: hex(HMAC-SHA256(secret, timestamp + "." + rawBody))
 *
 * A timestamp outside `publish.replayWindow` is refused (`stale_request`), and so is a signature
 * already accepted within the window (`replayed_request`), so a captured request cannot be sent
 * again. The comparison is constant-time.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { HeraldConfig } from "../config/schema.js";
import { HubError } from "../hub/hub-error.js";

// Signatures remembered for replay detection; past this many the oldest go first.
const MAX_REMEMBERED = 100_000;

export class HmacVerifier {
  private readonly secrets: Map<string, string>;
  private readonly seen = new Map<string, number>();

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
   * Verifies a signed request; returns the key id and the signature's replay key, or throws HubError
   * with a code saying what is wrong. Call `claim` once the request is not an idempotent retry.
   */
  verify(headers: IncomingHttpHeaders, rawBody: string, now = Date.now()): { keyId: string; replayKey: string } {
    const keyId = header(headers, "x-herald-key-id");
    const timestamp = header(headers, "x-herald-timestamp");
    const signature = header(headers, "x-herald-signature");
    if (!keyId || !timestamp || !signature) {
      throw new HubError("invalid_signature", "a signed request needs X-Herald-Key-Id, X-Herald-Timestamp and X-Herald-Signature");
    }
    const secret = this.secrets.get(keyId);
    if (secret === undefined) throw new HubError("invalid_signature", "unknown X-Herald-Key-Id");
    if (!/^\d{1,12}$/.test(timestamp)) throw new HubError("invalid_signature", "X-Herald-Timestamp must be Unix time in seconds");
    const skew = Math.abs(now - Number(timestamp) * 1000);
    if (skew > this.config.replayWindow) {
      throw new HubError("stale_request", `X-Herald-Timestamp is ${Math.round(skew / 1000)}s away from the server's clock; the window is ${Math.round(this.config.replayWindow / 1000)}s`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(signature)) throw new HubError("invalid_signature", "X-Herald-Signature must be 64 hex digits (HMAC-SHA256)");
    const expected = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) throw new HubError("invalid_signature", "the signature does not match the body and timestamp");
    return { keyId, replayKey: `${keyId}:${signature.toLowerCase()}` };
  }

  /** Records a verified signature; throws `replayed_request` when it was already used within the window. */
  claim(replayKey: string, now = Date.now()): void {
    this.forgetExpired(now);
    if (this.seen.has(replayKey)) throw new HubError("replayed_request", "this signed request was already accepted; sign a new one");
    if (this.seen.size >= MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(replayKey, now + this.config.replayWindow);
  }

  private forgetExpired(now: number): void {
    // Entries are in insertion order, which is expiry order: stop at the first live one.
    for (const [key, expiresAt] of this.seen) {
      if (expiresAt > now) break;
      this.seen.delete(key);
    }
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
