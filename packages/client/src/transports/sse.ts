/**
 * Server-Sent Events transport over `fetch` and a streaming text parser, not `EventSource`:
 * - EventSource dispatches named events (`event: balance_update`) only to listeners registered for
 *   that exact name, and event names are the application's, unknown in advance;
 * - EventSource hides the HTTP status, so a refused stream (403, 404 behind a proxy) looks like a
 *   network blip it retries forever; with fetch the core sees the failure and can fall back;
 * - EventSource reconnects by itself, which would fight the core's backoff and recovery.
 * fetch with a readable body works in every current browser and in Node 20.
 * The resume position goes in `?lastEventId=` rather than the `Last-Event-ID` header, so a
 * cross-origin request stays "simple" and needs no CORS preflight.
 */

import { encodeCursor, type Cursor } from "@herald/protocol";
import { ABNORMAL_CLOSURE, streamUrl, type IncomingFrame, type TransportContext } from "./transport.js";
import { HttpTransport } from "./http-transport.js";

export class SseTransport extends HttpTransport {
  readonly name = "sse";

  protected async run(context: TransportContext, cursor: Cursor): Promise<void> {
    const extra: Record<string, string> = Object.keys(cursor).length > 0 ? { lastEventId: encodeCursor(cursor) } : {};
    if (context.delta) extra.delta = "fossil";
    try {
      const response = await context.fetch(streamUrl(context.httpUrl, "/sse", context, extra), {
        headers: { accept: "text/event-stream" },
        signal: this.abort.signal,
        cache: "no-store",
      });
      if (!response.ok) return this.finish(ABNORMAL_CLOSURE, `SSE refused: ${await this.refusal(context, response)}`);
      if (!response.body) return this.finish(ABNORMAL_CLOSURE, `SSE answered HTTP ${response.status} without a body`);
      if (this.done) return;
      this.callbacks.open();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser((data) => this.dispatch(data));
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.done) break;
        parser.push(value);
      }
      this.finish(ABNORMAL_CLOSURE, "SSE stream ended");
    } catch (error) {
      this.finish(ABNORMAL_CLOSURE, `SSE failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private dispatch(data: string): void {
    if (this.done) return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    // `data:` holds the very frame a WebSocket client gets, `type` included, so `event:` and `id:`
    // add nothing the core needs (it tracks positions from the frames themselves).
    if (typeof frame === "object" && frame !== null && typeof (frame as IncomingFrame).type === "string") this.callbacks.frame(frame as IncomingFrame);
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.abort.abort();
    this.callbacks.close(code, reason);
  }
}

/**
 * Incremental parser for the text/event-stream format (WHATWG HTML, "Server-sent events"):
 * lines end in CRLF, LF or CR; `data:` lines join with "\n"; a blank line dispatches; lines
 * starting with ":" are comments. Only `data` matters here (see dispatch).
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];

  constructor(private readonly onMessage: (data: string) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = eol.exec(this.buffer); match; match = eol.exec(this.buffer)) {
      // A lone CR at the very end may be the first half of CRLF; wait for the next chunk.
      if (match[0] === "\r" && match.index + 1 === this.buffer.length) break;
      this.line(this.buffer.slice(start, match.index));
      start = eol.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) this.onMessage(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}
