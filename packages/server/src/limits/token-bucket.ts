/**
 * A token bucket: `rate` tokens per second flow into a bucket of `burst` tokens; each action takes
 * one. Refilled lazily from the clock on each take, so an idle bucket costs nothing.
 */

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True once the bucket is full again, i.e. it holds no memory of past use and can be dropped. */
  idle(now = performance.now()): boolean {
    return this.tokens + ((now - this.updatedAt) / 1000) * this.rate >= this.burst;
  }
}
