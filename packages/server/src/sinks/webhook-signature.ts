/**
 * Webhook signatures: how a receiver knows a POST came from this Herald and was not replayed.
 *
 *   Herald-Signature: t=1700000000,v1=5257a869e7…
 *
 * `t` is the Unix time in seconds when the try was sent; `v1` is the hex HMAC-SHA256, keyed with
 * the endpoint's secret, of `${t}.${raw body}`. A receiver recomputes it over the raw bytes it got
 * (before any JSON parsing), compares in constant time, and refuses a `t` too far from its clock,
 * which bounds replays. The scheme is the one Stripe documents for its webhooks.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "herald-signature";

export function signWebhook(secret: string, body: string, timestampSeconds: number = Math.floor(Date.now() / 1000)): string {
  const digest = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${digest}`;
}

export interface VerifyWebhookOptions {
  /** Largest accepted distance between `t` and now, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The receiver's clock, in Unix seconds (for tests). Default now. */
  now?: number;
}

/**
 * True when `header` (the Herald-Signature value) signs `body` with `secret` and is recent enough.
 * Pass the body exactly as received, as a string or the raw bytes.
 */
export function verifyWebhook(secret: string, body: string | Buffer, header: string | undefined | null, options: VerifyWebhookOptions = {}): boolean {
  if (!header) return false;
  const fields = new Map<string, string[]>();
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = Number(fields.get("t")?.[0]);
  if (!Number.isInteger(t)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = createHmac("sha256", secret).update(`${t}.`).update(body).digest();
  // Several v1 values may be present while a secret is being rotated; any match is enough.
  return (fields.get("v1") ?? []).some((hex) => {
    const given = Buffer.from(hex, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
