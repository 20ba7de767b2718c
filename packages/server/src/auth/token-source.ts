/**
 * Where a connection's token comes from: `?token=`, or a cookie (browsers cannot set headers on a
 * WebSocket, and a cookie keeps the token out of URLs and proxy logs). The `auth` first frame is
 * the third way; the transports read it.
 */

import type { IncomingHttpHeaders } from "node:http";

export function tokenFromRequest(query: URLSearchParams | Record<string, unknown>, headers: IncomingHttpHeaders, cookieName: string | undefined): string | undefined {
  const fromQuery = query instanceof URLSearchParams ? query.get("token") : first(query.token);
  if (fromQuery) return fromQuery;
  return cookieName ? readCookie(headers.cookie, cookieName) : undefined;
}

/** Reads one cookie from a Cookie header (RFC 6265 §5.4 syntax: `a=1; b=2`). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value) || undefined;
    } catch {
      return value || undefined;
    }
  }
  return undefined;
}

function first(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
  return typeof value === "string" ? value : undefined;
}
