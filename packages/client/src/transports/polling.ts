/**
 * HTTP (long-)polling transport: `GET /api/updates?channel=…&since=<cursor>&timeout=…` in a loop.
 * It speaks to the core in the same frames as the other transports: after the first answer it
 * emits `connected` and one `subscribed` per channel, then every update as an event frame.
 *
 * The first request of a channel that has no position yet answers its retained history; those
 * events happened before the subscription (a WebSocket subscriber would not get them either), so
 * they are dropped and the returned cursor becomes the channel's starting position.
 */

import { decodeCursor, encodeCursor, type Cursor } from "@herald/protocol";
import { ABNORMAL_CLOSURE, streamUrl, type IncomingFrame, type TransportContext } from "./transport.js";
import { HttpTransport } from "./http-transport.js";

interface UpdatesAnswer {
  updates: IncomingFrame[];
  cursor: string;
  count: number;
  recovered: boolean;
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
      const cursor = decodeCursor(first.cursor) ?? {};
      for (const { channel } of context.channels) {
        const requested = since[channel];
        const now = cursor[channel];
        if (!now) continue;
        const delivered = first.updates.some((update) => update.channel === channel);
        // Continuous when the epoch held and either events follow or nothing was published since.
        const recovered = requested !== undefined && requested.epoch === now.epoch && (delivered || requested.offset === now.offset);
        this.callbacks.frame({ type: "subscribed", channel, epoch: now.epoch, offset: now.offset, recovered });
      }
      this.deliver(first.updates.filter((update) => since[update.channel as string] !== undefined));
      let text = first.cursor;
      while (!this.done) {
        const answer = await this.poll(context, text, context.pollTimeout);
        if (this.done) return;
        this.deliver(answer.updates);
        text = answer.cursor;
      }
    } catch (error) {
      this.finish(ABNORMAL_CLOSURE, `polling failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async poll(context: TransportContext, since: Cursor | string, timeout: number): Promise<UpdatesAnswer> {
    const sinceText = typeof since === "string" ? since : Object.keys(since).length > 0 ? encodeCursor(since) : undefined;
    const extra: Record<string, string> = { timeout: String(timeout) };
    if (sinceText) extra.since = sinceText;
    const hung = setTimeout(() => this.abort.abort(), timeout + POLL_GRACE_MS);
    try {
      const response = await context.fetch(streamUrl(context.httpUrl, "/api/updates", context, extra), { signal: this.abort.signal, cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
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
