/**
 * A session that receives nothing pushed: an HTTP request (a poll, a history read) that must be
 * authenticated and authorised like a connection and, while in flight, counted as one.
 */

import type { ServerControlFrame } from "@herald/protocol";
import { Session } from "./session.js";

export class PassiveSession extends Session {
  deliver(): void {}
  sendFrame(_frame: ServerControlFrame): void {}
  get congested(): boolean {
    return false;
  }
  async drained(): Promise<void> {}
  close(): void {
    this.closed = true;
  }
}
