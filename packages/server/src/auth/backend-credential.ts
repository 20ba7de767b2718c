/**
 * Who counts as the backend on the routes that act for it (publish, the server API): a signed
 * request (HMAC key), a configured API key in `Authorization: Bearer`, or, only when neither kind
 * of key is configured, a loopback caller without any Authorization header (docs/security.md,
 * "Who counts as the backend"). One function, so every such route admits exactly the same callers.
 */

import type { IncomingHttpHeaders } from "node:http";
import type { ApiKeys } from "./api-keys.js";
import { HmacVerifier } from "./hmac-signature.js";
import type { SecurityContext } from "./security-context.js";
import { HeraldError } from "../shared/herald-error.js";

export interface BackendRequest {
  readonly headers: IncomingHttpHeaders;
  /** The TCP peer's address; behind a trusted proxy the client's address is read from its headers (trustProxy). */
  readonly peer: string | undefined;
  /** What a signature covers: the raw body, or the request target (path and query) for a request without one. */
  readonly signed: string;
}

export interface BackendCredential {
  /** `key:<name>`, `hmac:<key id>` or `key:loopback`; scopes idempotency keys per credential. */
  readonly name: string;
  /** Set for a signed request: the signature's replay key, for HmacVerifier.claim (the caller decides when). */
  readonly replayKey?: string;
}

/** The caller's backend credential, or a HeraldError (401) saying what to send instead. */
export function backendCredential(request: BackendRequest, apiKeys: ApiKeys, security: Pick<SecurityContext, "hmac" | "clientAddress">): BackendCredential {
  const { hmac } = security;
  if (HmacVerifier.isSigned(request.headers)) {
    if (!hmac.configured) throw new HeraldError("invalid_signature", "this hub has no publish.hmacKeys; send Authorization: Bearer <API key> instead");
    const signed = hmac.verify(request.headers, request.signed);
    return { name: `hmac:${signed.keyId}`, replayKey: signed.replayKey };
  }
  if (hmac.configured && !apiKeys.configured) {
    throw new HeraldError("unauthorized", "sign the request: X-Herald-Key-Id, X-Herald-Timestamp and X-Herald-Signature (see docs/security.md)");
  }
  // Loopback counts by the client's address: behind a trusted proxy on this host, not the proxy's.
  const key = apiKeys.check(request.headers.authorization, security.clientAddress.of(request.peer, request.headers));
  if (!key.ok) throw new HeraldError("unauthorized", key.message);
  return { name: `key:${key.keyName}` };
}
