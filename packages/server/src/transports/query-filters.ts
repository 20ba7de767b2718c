/**
 * Tag filters of the HTTP transports' subscriptions, from the query string: `filter=<expr>` for every
 * channel of the request, `filter[<channel>]=<expr>` for one (it wins over the shared one).
 */

import { HeraldError } from "../shared/herald-error.js";
import { firstString } from "./query.js";

/** Each channel's filter text, for the channels that have one. */
export function filtersFromQuery(query: Record<string, unknown>, channels: readonly string[]): Map<string, string> {
  const filters = new Map<string, string>();
  const shared = firstString(query.filter);
  if (shared !== undefined) for (const channel of channels) filters.set(channel, shared);
  for (const key of Object.keys(query)) {
    if (!key.startsWith("filter[") || !key.endsWith("]")) continue;
    const channel = key.slice("filter[".length, -1);
    if (!channels.includes(channel)) throw new HeraldError("invalid_param", `${key.slice(0, 300)} names a channel the request does not subscribe to; add channel=${channel.slice(0, 255)}`);
    filters.set(channel, firstString(query[key])!);
  }
  return filters;
}
