/**
 * Frames per second per connection. Over the rate, a frame is dropped and the first drop answers
 * a `rate_limited` error frame; a client that keeps sending while limited (another `frameBurst`
 * frames dropped in a row) is closed with 1008. Honest clients never come near the default.
 *
 * The allowance is a token bucket kept as one time (the generic cell rate algorithm): the moment
 * the connection's bucket is full again. Each accepted frame pushes it one interval (1 s / rate)
 * later; a frame is accepted while that moment lies at most `frameBurst − 1` intervals ahead.
 * The two numbers live on the connection itself: a bucket object per connection, found through a
 * WeakMap, cost every idle connection about 160 bytes of heap.
 */

import type { HeraldConfig } from "../config/schema.js";
import type { LimitHits } from "./limit-hits.js";

export type FrameVerdict = "accept" | "warn" | "drop" | "close";

/** What the limiter keeps of a connection, held by the connection (start both at 0). */
export interface FrameAllowance {
  /** performance.now() at which the connection's allowance is whole again. */
  framesFullAt: number;
  /** Frames dropped in a row since the last accepted one. */
  framesDropped: number;
}

export class FrameRateLimiter {
  constructor(
    private readonly limits: HeraldConfig["limits"],
    private readonly hits: LimitHits,
  ) {}

  get rate(): number {
    return this.limits.framesPerSecond;
  }

  check(connection: FrameAllowance, now = performance.now()): FrameVerdict {
    const interval = 1000 / this.limits.framesPerSecond;
    const fullAt = connection.framesFullAt > now ? connection.framesFullAt : now;
    if (fullAt - now <= (this.limits.frameBurst - 1) * interval) {
      connection.framesFullAt = fullAt + interval;
      connection.framesDropped = 0;
      return "accept";
    }
    connection.framesDropped += 1;
    if (connection.framesDropped === 1) {
      this.hits.hit("frame_rate");
      return "warn";
    }
    return connection.framesDropped > this.limits.frameBurst ? "close" : "drop";
  }
}
