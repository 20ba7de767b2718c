/**
 * Cross-site WebSocket hijacking: a page on another site can open a WebSocket (or an EventSource)
 * to Herald, and the browser sends the user's cookies along. The browser also sends `Origin`,
 * which a page cannot forge, so upgrades and SSE streams from origins not allowed are refused
 * with 403 before anything opens.
 *
 * `security.allowedOrigins` set: only those origins (`*` allows any). Not set: any origin, except
 * when tokens may come from a cookie (`auth.cookie`), where only the hub's own origin is allowed,
 * because that is exactly the case the attack needs. Requests without `Origin` (servers, CLI
 * tools, native apps) are not browsers acting for a user, and pass.
 */

import type { IncomingHttpHeaders } from "node:http";
import type { HeraldConfig } from "../config/schema.js";

export class OriginPolicy {
  private readonly allowed: Set<string> | undefined;
  private readonly any: boolean;

  constructor(private readonly config: HeraldConfig) {
    const list = config.security.allowedOrigins;
    this.any = list?.includes("*") ?? false;
    this.allowed = list ? new Set(list.map(normalise)) : undefined;
  }

  /** Undefined when allowed; otherwise the message to refuse with. */
  check(headers: IncomingHttpHeaders): string | undefined {
    const origin = headers.origin;
    if (origin === undefined || this.any) return undefined;
    if (this.allowed) {
      return this.allowed.has(normalise(origin)) ? undefined : `origin ${origin.slice(0, 100)} is not allowed; add it to security.allowedOrigins`;
    }
    // Cookies authenticate when they may carry the token or the connect proxy forwards them.
    if (this.config.auth.cookie === undefined && this.config.auth.proxy?.connect === undefined) return undefined;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return "the Origin header is not a URL";
    }
    return host === headers.host ? undefined : `origin ${origin.slice(0, 100)} is not this hub's; set security.allowedOrigins to allow it`;
  }
}

function normalise(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}
