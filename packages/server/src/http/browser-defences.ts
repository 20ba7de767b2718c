/**
 * What browsers need told: CORS for the HTTP API (only the origins in `security.allowedOrigins`;
 * with none set, no CORS headers, so other sites' pages cannot read answers), and security
 * headers on every answer (no MIME sniffing, no framing, no referrer, nothing loaded by a JSON
 * answer rendered as a page).
 */

import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";
import type { HeraldConfig } from "../config/schema.js";

const HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-opener-policy", "same-origin"],
];
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export function registerBrowserDefences(app: FastifyInstance, config: HeraldConfig): void {
  const origins = config.security.allowedOrigins;
  if (origins && origins.length > 0) {
    const any = origins.includes("*");
    void app.register(cors, {
      origin: any ? true : origins,
      // Credentials (cookies) only for listed origins: a wildcard with credentials would undo the list.
      credentials: !any,
      methods: ["GET", "POST", "OPTIONS"],
      allowedHeaders: ["content-type", "authorization", "idempotency-key", "last-event-id", "x-herald-key-id", "x-herald-timestamp", "x-herald-signature"],
      maxAge: 600,
    });
  }
  if (!config.security.headers) return;
  // A callback hook, not an async one: it runs on every answer, and a promise each is measurable in a publish.
  app.addHook("onSend", (_request, reply, payload, done) => {
    for (const [name, value] of HEADERS) if (!reply.hasHeader(name)) reply.header(name, value);
    // Pages (the dashboard) set their own policy; JSON and text answers get the strictest one.
    if (!reply.hasHeader("content-security-policy")) {
      const type = String(reply.getHeader("content-type") ?? "");
      if (!type.startsWith("text/html")) reply.header("content-security-policy", API_CSP);
    }
    done(null, payload);
  });
}
