/**
 * Admin endpoints (/api/status detail, /metrics when protected, the dashboard) need
 * `Authorization: Bearer <security.adminToken>`. Without an admin token configured they are open
 * to loopback callers only, so development works with nothing set and nothing leaks outside.
 */

import type { IncomingMessage } from "node:http";
import type { HeraldConfig } from "../config/schema.js";
import { isLoopback } from "./api-keys.js";
import { StaticToken } from "./static-token.js";

export class AdminGuard {
  private readonly token: StaticToken | undefined;

  constructor(config: HeraldConfig) {
    this.token = config.security.adminToken === undefined ? undefined : new StaticToken(config.security.adminToken);
  }

  allows(request: IncomingMessage): boolean {
    if (!this.token) return isLoopback(request.socket.remoteAddress);
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "");
    return match !== null && this.token.matches(match[1]!.trim());
  }
}
