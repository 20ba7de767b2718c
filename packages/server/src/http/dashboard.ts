/**
 * Serves the dashboard (packages/dashboard, built by `npm run build`) at `/dashboard`.
 *
 * Admin only (see auth/admin-guard.ts), from loopback too. `/dashboard?token=<admin token>` sets the admin cookie and
 * redirects to the clean URL, so the token leaves the address bar and the page's later requests
 * (fetch, EventSource) carry it. When the build is missing the answer is a 503 that says so.
 * The page gets its own Content-Security-Policy: its scripts and styles from this origin only,
 * connections to this origin only.
 */

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { ADMIN_COOKIE, ADMIN_ONLY } from "../auth/admin-guard.js";
import { firstString } from "../transports/query.js";
import { HeraldError } from "../shared/herald-error.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
};

const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Where the built page is: HERALD_DASHBOARD_DIR, else the @herald/dashboard package's dist. */
export function dashboardDir(): string {
  const fromEnv = process.env.HERALD_DASHBOARD_DIR;
  if (fromEnv) return fromEnv;
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@herald/dashboard/package.json")), "dist");
  } catch {
    // Not installed as a package: the monorepo layout (src/http or dist/http → packages/dashboard).
    return fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));
  }
}

export function registerDashboard(app: FastifyInstance, context: HttpContext): void {
  const root = dashboardDir();

  const serve = async (request: FastifyRequest, reply: FastifyReply, file: string) => {
    const token = firstString((request.query as Record<string, unknown>).token);
    if (token !== undefined && context.security.admin.accepts(token)) {
      const secure = request.protocol === "https" ? "; Secure" : "";
      reply.header("set-cookie", `${ADMIN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure}`);
      return reply.redirect("/dashboard/", 303);
    }
    if (token !== undefined) throw new HeraldError("unauthorized", "that is not the admin token: open the dashboard URL the start-up banner printed, or /dashboard?token=<HERALD_ADMIN_TOKEN>");
    if (!context.security.admin.allows(request.raw)) throw new HeraldError("unauthorized", ADMIN_ONLY);
    if (!existsSync(join(root, "index.html"))) {
      throw new HeraldError("dashboard_not_built", `the dashboard is not built (no ${join(root, "index.html")}); run \`npm run build\``);
    }
    const path = normalize(join(root, file));
    if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) throw new HeraldError("not_found", "no such dashboard file");
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      throw new HeraldError("not_found", `no dashboard file ${file}`);
    }
    const type = TYPES[extname(path)] ?? "application/octet-stream";
    reply.type(type);
    // Vite names assets by their content hash: they never change; the page itself always may.
    reply.header("cache-control", file.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
    if (type.startsWith("text/html")) reply.header("content-security-policy", PAGE_CSP);
    return reply.send(body);
  };

  app.get("/dashboard", (request, reply) => serve(request, reply, "index.html"));
  app.get("/dashboard/", (request, reply) => serve(request, reply, "index.html"));
  app.get("/dashboard/*", (request, reply) => serve(request, reply, (request.params as { "*": string })["*"] || "index.html"));
}
