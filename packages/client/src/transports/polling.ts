/**
 * HTTP (long-)polling transport: `GET /api/updates?channel=…&since=<cursor>&timeout=…` in a loop.
 * It speaks to the core in the same frames as the other transports: after the first answer it
 * emits `connected` and one `subscribed` per channel, then every update as an event frame.
 *
 * The first request of a channel that has no position yet answers its retained history; those
 * events happened before the subscription (a WebSocket subscriber would not get them either), so
 * they are dropped and the returned cursor becomes the channel's starting position.
 *
 * Every answer, not only the first, may say `recovered: false`: a channel's cursor left its
 * history window or its epoch changed (history lost) between two polls. That channel's new
 * cursor jumps to the stream's current position with no events, so the transport reports it as
 * a new `subscribed` with `recovered: false`, which the core turns into `recovery_failed` and the
 * new position, exactly as a WebSocket or SSE resubscribe would.
 *
 * A channel the answer lists in `receipts` gets `receipts: true` in its `subscribed`, as on the
 * other transports, so the core acknowledges its handled events (a POST /api/ack with the epoch).
 */

import { channelMatches, decodeCursor, encodeCursor, type CacheResult, type Cursor } from "@herald/protocol";
import { ABNORMAL_CLOSURE, streamUrl, type IncomingFrame, type TransportContext } from "./transport.js";
import { HttpTransport } from "./http-transport.js";

interface UpdatesAnswer {
  updates: IncomingFrame[];
  cursor: string;
  count: number;
  recovered: boolean;
  /** Per channel of a `cache: true` namespace polled without a position: whether its latest event is in `updates`. */
  cache?: Record<string, CacheResult>;
  /** Channels whose namespace keeps receipts (for a poll that has a user): the core acknowledges there. */
  receipts?: string[];
}

/** Extra time a long-poll may take beyond the wait it asked for before it counts as hung. */
const POLL_GRACE_MS = 10_000;

export class PollingTransport extends HttpTransport {
  readonly name = "polling";

  protected async run(context: TransportContext, since: Cursor): Promise<void> {
    try {
      // First request: no wait, so the subscriptions are confirmed at once.
      const first = await this.poll(context, since, 0);
      if (this.done) return;
      this.callbacks.open();
      this.callbacks.frame({ type: "connected", connectionId: "", node: "", pingInterval: 0 });
      let cursor = this.answered(context, since, first, true);
      while (!this.done) {
        const answer = await this.poll(context, cursor, context.pollTimeout);
        if (this.done) return;
        cursor = this.answered(context, cursor, answer, false);
      }
    } catch (error) {
      this.finish(ABNORMAL_CLOSURE, `polling failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Passes one answer to the core: a `subscribed` for every channel on the first answer, and
   * later for every channel whose cursor did not continue; then the events. Returns the cursor
   * to poll from next.
   */
  private answered(context: TransportContext, sent: Cursor, answer: UpdatesAnswer, first: boolean): Cursor {
    const now = decodeCursor(answer.cursor) ?? {};
    for (const { channel } of context.channels) {
      // Every channel asked for is in the cursor; a pattern stands at no position (its channels do;
      // under its own name the cursor holds its time, for the server).
      const at = (!channel.includes("*") && now[channel]) || { epoch: "", offset: 0 };
      const from = sent[channel];
      // The server answers a channel without a gap with its events after `from`, or with `from`
      // itself when nothing came; after a gap, with the current position and no events. A
      // filtered channel's cursor also passes events its filter dropped: with `recovered` (no
      // channel of the answer had a gap) that is no gap either.
      const delivered = answer.updates.some((update) => update.channel === channel);
      const continuous = from !== undefined && from.epoch === at.epoch && (answer.recovered || delivered || from.offset === at.offset);
      if (first || (!answer.recovered && !continuous)) {
        const subscribed: IncomingFrame = { type: "subscribed", channel, epoch: at.epoch, offset: at.offset, recovered: continuous };
        if (answer.receipts?.includes(channel)) subscribed.receipts = true;
        // A pattern's time, kept by its state and sent back after a reconnect, as over WebSocket.
        const time = channel.includes("*") ? now[channel] : undefined;
        if (time?.epoch === "") subscribed.time = new Date(time.offset).toISOString();
        const cache = from === undefined ? answer.cache?.[channel] : undefined;
        if (cache) subscribed.cache = cache;
        this.callbacks.frame(subscribed);
      }
    }
    // A first answer's events of a channel without a position are its history before the
    // subscription, except the latest one of a cache namespace, which the subscriber starts with.
    // A channel that started matching a pattern since the pattern's time (sent under its name) is
    // delivered from its first event since then: those are missed events, not older history.
    const found = (channel: string): boolean => context.channels.some(({ channel: name }) => name.includes("*") && sent[name]?.epoch === "" && channelMatches(name, channel));
    const kept = (update: IncomingFrame): boolean => {
      const channel = update.channel as string;
      return sent[channel] !== undefined || (answer.cache?.[channel] === "hit" && update.offset === now[channel]?.offset) || found(channel);
    };
    this.deliver(first ? answer.updates.filter(kept) : answer.updates);
    return { ...sent, ...now };
  }

  private async poll(context: TransportContext, since: Cursor, timeout: number): Promise<UpdatesAnswer> {
    const sinceText = Object.keys(since).length > 0 ? encodeCursor(since) : undefined;
    const extra: Record<string, string> = { timeout: String(timeout) };
    if (sinceText) extra.since = sinceText;
    const hung = setTimeout(() => this.abort.abort(), timeout + POLL_GRACE_MS);
    try {
      const response = await context.fetch(streamUrl(context.httpUrl, "/api/updates", context, extra), { signal: this.abort.signal, cache: "no-store" });
      if (!response.ok) throw new Error(await this.refusal(context, response));
      return (await response.json()) as UpdatesAnswer;
    } finally {
      clearTimeout(hung);
    }
  }

  private deliver(updates: IncomingFrame[]): void {
    for (const update of updates) {
      if (this.done) return;
      this.callbacks.frame(update);
    }
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.abort.abort();
    this.callbacks.close(code, reason);
  }
}
