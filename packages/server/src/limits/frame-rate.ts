/**
 * Frames per second per connection. Over the rate, a frame is dropped and the first drop answers
 * a `rate_limited` error frame; a client that keeps sending while limited (another `frameBurst`
 * frames dropped in a row) is closed with 1008. Honest clients never come near the default.
 */

import type { HeraldConfig } from "../config/schema.js";
import type { LimitHits } from "./limit-hits.js";
import { TokenBucket } from "./token-bucket.js";

export type FrameVerdict = "accept" | "warn" | "drop" | "close";

interface State {
  readonly bucket: TokenBucket;
  dropped: number;
}

export class FrameRateLimiter {
  private readonly states = new WeakMap<object, State>();

  constructor(
    private readonly limits: HeraldConfig["limits"],
    private readonly hits: LimitHits,
  ) {}

  get rate(): number {
    return this.limits.framesPerSecond;
  }

  check(connection: object): FrameVerdict {
    let state = this.states.get(connection);
    if (!state) {
      state = { bucket: new TokenBucket(this.limits.framesPerSecond, this.limits.frameBurst), dropped: 0 };
      this.states.set(connection, state);
    }
    if (state.bucket.take()) {
      state.dropped = 0;
      return "accept";
    }
    state.dropped += 1;
    if (state.dropped === 1) {
      this.hits.hit("frame_rate");
      return "warn";
    }
    return state.dropped > this.limits.frameBurst ? "close" : "drop";
  }
}
