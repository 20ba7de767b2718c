/**
 * Delays between retries: exponential backoff with full jitter, for the client's reconnects and
 * refused subscribes and for the server's bridges, Postgres source and sinks.
 *
 * From the AWS Architecture Blog, "Exponential Backoff And Jitter" (Marc Brooker, 2015):
 * `sleep = random_between(0, min(cap, base * 2 ** attempt))`. Full jitter spreads the retries of
 * many parties cut at once (a server restart, an endpoint down) over the whole window instead of
 * synchronising them. Here the growth factor is configurable and `minDelay` is a floor, so no retry
 * is instant: `delay = min(maxDelay, minDelay + random_between(0, min(maxDelay, minDelay * factor ** attempt)))`.
 */

export interface BackoffOptions {
  /** Floor and base of the window, ms. Default 500. */
  minDelay: number;
  /** Cap, ms. Default 20 000. */
  maxDelay: number;
  /** Growth of the window per attempt. Default 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { minDelay: 500, maxDelay: 20_000, factor: 2 };

/** The upper bound of the jitter window for a 0-based attempt (before adding the floor). */
function backoffWindow(attempt: number, options: BackoffOptions): number {
  // Bound the exponent so a long outage cannot overflow to Infinity.
  return Math.min(options.maxDelay, options.minDelay * options.factor ** Math.min(attempt, 64));
}

/** The delay before the given 0-based attempt; `random` returns [0, 1) (injectable for tests). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.round(Math.min(options.maxDelay, options.minDelay + random() * backoffWindow(attempt, options)));
}
