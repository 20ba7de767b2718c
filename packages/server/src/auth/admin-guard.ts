/**
 * Admin endpoints (/api/status detail, /metrics when protected, the dashboard and its feeds) need
 * `Authorization: Bearer <admin token>`, or the `herald_admin` cookie that opening
 * `/dashboard?token=<admin token>` sets (a browser cannot put a header on a page load or an
 * EventSource).
 *
 * The admin token is `security.adminToken`, or, when none is configured, one generated at start for
 * this process only (the start-up banner prints the dashboard URL carrying it). Where a request
 * comes from counts for nothing: behind a reverse proxy on the same host every browser arrives
 * from loopback, and the admin feed streams every event of every channel.
 */

import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { StaticToken } from "./static-token.js";
import { readCookie } from "./token-source.js";

/** The cookie holding the admin token for the dashboard (HttpOnly, SameSite=Strict). */
export const ADMIN_COOKIE = "herald_admin";

/** The refusal every admin endpoint gives: what to present, and where to find it. */
export const ADMIN_ONLY =
  "admin only: send Authorization: Bearer <admin token>, or open /dashboard?token=<admin token> once " +
  "(the admin token is HERALD_ADMIN_TOKEN, or the one in the dashboard URL the start-up banner printed)";

/** What a request presents: the admin token, nothing at all, or something that is not the admin token. */
export type AdminCredential = "admin" | "none" | "invalid";

/** A fresh admin token: 32 random bytes, URL-safe so it can sit in `/dashboard?token=`. */
export function generateAdminToken(): string {
  return randomBytes(32).toString("base64url");
}

export class AdminGuard {
  private readonly token: StaticToken;

  /** `token` is the effective admin token: the configured one or one generated at start. */
  constructor(token: string) {
    this.token = new StaticToken(token);
  }

  /** Whether `token` is the admin token. */
  accepts(token: string): boolean {
    return this.token.matches(token);
  }

  /** The admin credential a request carries: a Bearer header first, else the admin cookie. */
  credential(request: IncomingMessage): AdminCredential {
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "");
    const given = match ? match[1]!.trim() : readCookie(request.headers.cookie, ADMIN_COOKIE);
    if (given === undefined) return "none";
    return this.token.matches(given) ? "admin" : "invalid";
  }

  allows(request: IncomingMessage): boolean {
    return this.credential(request) === "admin";
  }
}
