/**
 * Tokens that expire while their connection is open. At `exp` the connection gets a
 * `token_expired` error frame and keeps running; the client fetches a fresh token and sends it in
 * an `auth` frame. If none comes within the grace period, the connection is closed with 4501.
 *
 * One timer per hub scans the watched sessions (rather than one timer per connection), so a closed
 * connection is forgotten on the next tick instead of being held until its token would expire.
 */

import { CloseCodes } from "@herald/protocol";
import type { Session } from "../hub/session.js";

interface Watched {
  expiresAt: number;
  warned: boolean;
}

export class ExpiryWatch {
  private readonly watched = new Map<Session, Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly graceMs: number,
    private readonly tickMs = Math.max(50, Math.min(1_000, graceMs / 4)),
  ) {}

  /** Starts (or, after a refresh, restarts) watching a session's token expiry. */
  watch(session: Session, expiresAt: number): void {
    this.watched.set(session, { expiresAt, warned: false });
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  forget(session: Session): void {
    this.watched.delete(session);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private tick(): void {
    const now = Date.now();
    for (const [session, entry] of this.watched) {
      if (session.closed) {
        this.watched.delete(session);
      } else if (!entry.warned && now >= entry.expiresAt) {
        entry.warned = true;
        const seconds = Math.round(this.graceMs / 1000);
        session.sendFrame({ type: "error", code: "token_expired", message: `the token has expired; send a fresh one in an auth frame within ${seconds}s or the connection closes` });
      } else if (entry.warned && now >= entry.expiresAt + this.graceMs) {
        this.watched.delete(session);
        session.close(CloseCodes.unauthorized.code, "token expired and no fresh auth frame came; reconnect with a new token");
      }
    }
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
