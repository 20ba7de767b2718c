/**
 * Writes Server-Sent Events (the `text/event-stream` format of the HTML standard), for the `/sse`
 * transport and the admin feed alike: the response head that keeps proxies from buffering, the
 * reconnection delay, records, the heartbeat, and many records of one turn sent as one write.
 *
 * What to do with a reader that falls behind is the caller's rule, read from `backlog`: a client
 * stream is closed (it resumes from its cursor), the admin feed drops events and says how many.
 */

import type { ServerResponse } from "node:http";

const PING = 'event: ping\ndata: {"type":"ping"}\n\n';

export class SseStream {
  private corked = false;

  /** The response the stream writes to; a session waits on its `drain` (see PushSession). */
  constructor(readonly response: ServerResponse) {}

  /** Sends the head and the delay an EventSource waits before reconnecting; returns the bytes written. */
  open(retryMs = 1000): number {
    this.response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx buffers responses unless told not to; a buffered stream delivers nothing live.
      "x-accel-buffering": "no",
    });
    return this.write(`retry: ${retryMs}\n\n`);
  }

  /** One record: `data` must be one line (JSON is). Without `event` it is a plain `message`. Returns the bytes written. */
  record(event: string | undefined, data: string, id?: string): number {
    const chunk = `${id === undefined ? "" : `id: ${id}\n`}${event === undefined ? "" : `event: ${event}\n`}data: ${data}\n\n`;
    return this.write(chunk);
  }

  /** The heartbeat: a `ping` record, which keeps proxies from closing an idle stream. */
  ping(): number {
    return this.write(PING);
  }

  /** Bytes written but not yet taken by the socket. */
  get backlog(): number {
    return this.response.writableLength;
  }

  end(): void {
    // Records written in this turn leave before the end: on Node 22 and 24, records still corked
    // when the response ended never reached the client (server-api.test's disconnect over SSE).
    this.flush();
    this.response.end();
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.response.uncork();
  }

  private write(chunk: string): number {
    // Many records in one turn (a fan-out, a recovery) leave as one write.
    if (!this.corked) {
      this.corked = true;
      this.response.cork();
      process.nextTick(() => this.flush());
    }
    this.response.write(chunk);
    return chunk.length;
  }
}

/** One timer pinging every open stream of a kind. */
export class SseHeartbeat<T extends { ping(): unknown }> {
  readonly streams = new Set<T>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => {
      for (const stream of this.streams) stream.ping();
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
