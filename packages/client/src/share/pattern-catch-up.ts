/**
 * A tab's pattern subscription through the holder of the shared connection, answered as the
 * server answers a pattern subscribe's `positions` (docs/protocol.md, "Pattern subscriptions"):
 * for each channel the tab lists, whether it recovered, where it stands, and the events it missed.
 *
 * The holder knows the last event of each channel it forwarded for the pattern (`seen`) and keeps
 * the latest events (`recent`). A gap beyond them, a channel whose own recovery failed on the
 * holder's connection, or one this holder never forwarded (it took over from another) is read
 * from the server's history. The tab drops what it already has, channel by channel.
 */

import type { EventFrame, PatternChannelState, StreamPosition } from "@herald/protocol";
import type { HistoryResult } from "../herald.js";

export interface PatternCatchUp {
  /** Every listed channel, as `subscribed.channels` of the server. */
  channels: Record<string, PatternChannelState>;
  /** The events the tab missed, in offset order within each channel. */
  missed: EventFrame[];
}

export async function catchUp(
  positions: Record<string, StreamPosition>,
  seen: ReadonlyMap<string, StreamPosition>,
  recent: readonly EventFrame[],
  history: (channel: string, since: number) => Promise<HistoryResult>,
): Promise<PatternCatchUp> {
  const result: PatternCatchUp = { channels: {}, missed: [] };
  const reads = Object.entries(positions).map(async ([channel, since]) => {
    const head = seen.get(channel);
    if (head?.epoch === since.epoch) {
      // The holder receives every event of the channel (it holds the pattern unfiltered): a gap it
      // bridges has exactly one event per offset.
      const missed = recent.filter((frame) => frame.channel === channel && frame.epoch === since.epoch && frame.offset > since.offset && frame.offset <= head.offset);
      if (since.offset >= head.offset || missed.length === head.offset - since.offset) {
        result.channels[channel] = { epoch: head.epoch, offset: Math.max(head.offset, since.offset), recovered: true };
        result.missed.push(...missed);
        return;
      }
    }
    try {
      const read = await history(channel, since.offset);
      const recovered = read.epoch === since.epoch && read.complete;
      result.channels[channel] = { epoch: read.epoch, offset: read.offset, recovered };
      if (recovered) result.missed.push(...read.events);
    } catch {
      // Unreadable now: the tab hears that this channel did not recover, and goes on from where it was.
      result.channels[channel] = { epoch: since.epoch, offset: since.offset, recovered: false };
    }
  });
  await Promise.all(reads);
  return result;
}
