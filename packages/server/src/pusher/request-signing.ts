/**
 * Pusher's HTTP API request signature. The SDKs add `auth_key`, `auth_timestamp` (Unix seconds),
 * `auth_version=1.0` and, with a body, `body_md5` to the query, and sign
 *
 *   METHOD \n path \n every query parameter but auth_signature, keys lower-cased and sorted, key=value joined by &
 *
 * with HMAC-SHA256 and the app secret (`auth_signature`, hex). A request is refused with 401 when
 * the key is not the app's, the signature or the body's MD5 does not match, or the timestamp is
 * more than 600 seconds from the server's clock (a replayed old request). Within that window the
 * same request is accepted again, as Pusher does: SDKs sign identical triggers identically.
 */

import { createHash } from "node:crypto";
import { HeraldError } from "../shared/herald-error.js";
import type { PusherApp } from "./apps.js";
import { sameSignature, sign } from "./signatures.js";

export const TIMESTAMP_WINDOW_MS = 600_000;

export interface SignedRequest {
  readonly method: string;
  /** The request path as sent (without the query). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The body as received; undefined or "" when there is none. */
  readonly body: string | undefined;
}

/** Throws HeraldError (401) unless the request is signed with the app's key and secret. */
export function verifySignedRequest(app: PusherApp, request: SignedRequest, now = Date.now()): void {
  const { query } = request;
  const key = query.get("auth_key");
  const timestamp = query.get("auth_timestamp");
  const signature = query.get("auth_signature");
  if (!key || !timestamp || !signature) throw new HeraldError("unauthorized", "sign the request: auth_key, auth_timestamp and auth_signature are required");
  if (key !== app.key) throw new HeraldError("unauthorized", "auth_key is not this app's key");
  const version = query.get("auth_version");
  if (version !== null && version !== "1.0") throw new HeraldError("invalid_signature", "auth_version must be 1.0");
  if (!/^\d{1,12}$/.test(timestamp)) throw new HeraldError("invalid_signature", "auth_timestamp must be Unix time in seconds");
  const skew = Math.abs(now - Number(timestamp) * 1000);
  if (skew > TIMESTAMP_WINDOW_MS) {
    throw new HeraldError("stale_request", `auth_timestamp is ${Math.round(skew / 1000)}s away from the server's clock; requests must be signed within ${TIMESTAMP_WINDOW_MS / 1000}s`);
  }
  if (request.body) {
    const md5 = createHash("md5").update(request.body, "utf8").digest("hex");
    if (query.get("body_md5") !== md5) throw new HeraldError("invalid_signature", "body_md5 is missing or is not the MD5 of the body");
  }
  const params = [...query]
    .filter(([name]) => name !== "auth_signature")
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const expected = sign(app.secret, `${request.method.toUpperCase()}\n${request.path}\n${params}`);
  if (!sameSignature(expected, signature)) throw new HeraldError("invalid_signature", "auth_signature does not match the request; sign METHOD, path and the sorted query with the app secret");
}
