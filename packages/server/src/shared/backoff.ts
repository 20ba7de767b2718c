/**
 * Retry delays with "full jitter": a random delay between 0 and min(cap, base * 2^attempt).
 * Spreads retries of many clients so that they do not return in lockstep.
 * Source: Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015.
 */
export function backoffDelay(attempt: number, baseMs = 500, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(Math.random() * ceiling);
}
