/**
 * Admin endpoints (/api/status detail, /metrics when protected, the dashboard and its feeds) need
 * `Authorization: Bearer <security.adminToken>`, or the `herald_admin` cookie that opening
 * `/dashboard?token=<admin token>` sets (a browser cannot put a header on a page load or an
 * EventSource). Without an admin token configured they are open to loopback callers only, so
 * development works with nothing set and nothing leaks outside.
 */

import type { IncomingMessage } from "node:http";
import type { HeraldConfig } from "../config/schema.js";
import { isLoopback } from "./api-keys.js";
import { StaticToken } from "./static-token.js";
import { readCookie } from "./token-source.js";

/** The cookie holding the admin token for the dashboard (HttpOnly, SameSite=Strict). */
export const ADMIN_COOKIE = "herald_admin";

export class AdminGuard {
  private readonly token: StaticToken | undefined;

  constructor(config: HeraldConfig) {
    this.token = config.security.adminToken === undefined ? undefined : new StaticToken(config.security.adminToken);
  }

  /** True when an admin token is configured (so the dashboard must be unlocked with it). */
  get configured(): boolean {
    return this.token !== undefined;
  }

  /** Whether `token` is the admin token. */
  accepts(token: string): boolean {
    return this.token !== undefined && this.token.matches(token);
  }

  allows(request: IncomingMessage): boolean {
    if (!this.token) return isLoopback(request.socket.remoteAddress);
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "");
    const given = match ? match[1]!.trim() : readCookie(request.headers.cookie, ADMIN_COOKIE);
    return given !== undefined && this.token.matches(given);
  }
}
