/** Which events the stream shows: channel pattern, event type and free-text search. */

import { channelMatches } from "@herald/protocol";
import type { ShownEvent } from "./feed-event";

export interface Filters {
  /** A channel name or glob: `user:*`, `*:orders`, `bets`. Empty shows all. */
  readonly channel: string;
  /** An exact event type; empty shows all. */
  readonly type: string;
  /** Case-insensitive text searched in the channel, type and data. */
  readonly search: string;
}

export const NO_FILTERS: Filters = { channel: "", type: "", search: "" };

export function matcher(filters: Filters): (shown: ShownEvent) => boolean {
  const channel = filters.channel.trim();
  const search = filters.search.trim().toLowerCase();
  return (shown) => {
    const { event } = shown;
    if (channel !== "" && !channelMatches(channel, event.channel)) return false;
    if (filters.type !== "" && event.type !== filters.type) return false;
    if (search !== "" && !`${event.channel}\n${event.type}\n${shown.dataText}`.toLowerCase().includes(search)) return false;
    return true;
  };
}
