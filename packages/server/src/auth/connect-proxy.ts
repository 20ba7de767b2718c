/**
 * The connect proxy: a connection that brings no token is identified by the app's backend, from
 * the request's cookies and chosen headers, so an app authenticates Herald's connections with its
 * own session instead of minting JWTs.
 *
 * Herald POSTs `{transport, remoteAddress, headers}` to `auth.proxy.connect.url`. The backend
 * answers 200 `{"user": "42", "channels": [...], "expiresAt": <unix seconds>}` for a user,
 * 200 `{}` (or `"user": null`) for an anonymous visitor, or 401/403 to refuse the connection.
 */

import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { HeraldConfig } from "../config/schema.js";
import { HeraldError } from "../shared/herald-error.js";
import { AnswerCache } from "./answer-cache.js";
import { askBackend, backendReason } from "./backend-call.js";

type ConnectConfig = NonNullable<NonNullable<HeraldConfig["auth"]["proxy"]>["connect"]>;

export interface ProxiedIdentity {
  readonly user: string | undefined;
  /** Channel patterns the backend limits this connection to; undefined: no limit. */
  readonly channels: readonly string[] | undefined;
}

type Answer = { identity: ProxiedIdentity } | { refused: string };

export class ConnectProxy {
  private readonly cache: AnswerCache<Answer>;

  constructor(private readonly config: ConnectConfig) {
    this.cache = new AnswerCache(config.cacheTtl);
  }

  /** The configured headers of a request, as forwarded to the backend (absent ones left out). */
  forwarded(headers: IncomingHttpHeaders): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.config.headers) {
      const value = headers[name];
      if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    return out;
  }

  /**
   * Who the request's sender is: an identity, or undefined for an anonymous visitor (also when the
   * request carries none of the forwarded headers: the backend would have nothing to go on).
   */
  async identify(forwarded: Record<string, string>, transport: string, remoteAddress: string): Promise<ProxiedIdentity | undefined> {
    if (Object.keys(forwarded).length === 0) return undefined;
    const key = createHash("sha256").update(JSON.stringify(forwarded)).digest("base64url");
    let answer = this.cache.get(key);
    if (answer === undefined) {
      const reply = await askBackend("connect", this.config.url, { transport, remoteAddress, headers: forwarded }, this.config.timeout);
      answer = reply.status === 200 ? { identity: identityOf(reply.body) } : { refused: backendReason(reply.body) ?? "the app refused this connection" };
      const expiresAt = typeof reply.body.expiresAt === "number" ? reply.body.expiresAt * 1000 : undefined;
      this.cache.set(key, answer, expiresAt);
    }
    if ("refused" in answer) throw new HeraldError("unauthorized", `the app's backend refused this connection: ${answer.refused}`);
    return answer.identity.user === undefined && answer.identity.channels === undefined ? undefined : answer.identity;
  }
}

function identityOf(body: Record<string, unknown>): ProxiedIdentity {
  const user = typeof body.user === "string" || typeof body.user === "number" ? String(body.user) : undefined;
  const channels = Array.isArray(body.channels) ? body.channels.filter((c): c is string => typeof c === "string") : undefined;
  return { user, channels };
}
