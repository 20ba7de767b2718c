/**
 * A session that receives nothing pushed: an HTTP request (a poll, a history read) that must be
 * authenticated and authorised like a connection and, while in flight, counted as one.
 *
 * The server may still end it (a server API disconnect): the error frame it was sent is kept and
 * `ended` is aborted, so a long-poll waiting on it answers that error at once.
 */

import type { ErrorFrame, ServerControlFrame } from "@herald/protocol";
import { Session } from "./session.js";

export class PassiveSession extends Session {
  /** Aborted when the server ends the session. */
  private readonly ending = new AbortController();
  /** The last error frame sent: what a request ended by the server answers with. */
  lastError: ErrorFrame | undefined;
  /** A poll names its channels in each request: there is no connection to hold one the server adds. */
  override readonly followsServerSubscriptions = false;

  deliver(): void {}

  sendFrame(frame: ServerControlFrame): void {
    if (frame.type === "error") this.lastError = frame;
  }

  get congested(): boolean {
    return false;
  }

  async drained(): Promise<void> {}

  /** Aborted once the server ended the session (close). */
  get ended(): AbortSignal {
    return this.ending.signal;
  }

  close(): void {
    this.closed = true;
    this.ending.abort();
  }
}
