/**
 * Test support: every wait on the network is bounded. `deadline` races a promise against a timer
 * and fails with what the test was waiting for, so a regression that stops a close or a delivery
 * fails in seconds with a readable message instead of hanging the run.
 *
 * Client, React, dashboard and example tests import this by relative path.
 */

/** Generous enough for a loaded 2-core CI machine; these bound hangs, they do not judge speed. */
export const DEFAULT_WAIT_MS = 10_000;

/**
 * Resolves as `promise` does, or rejects with "timed out after N ms waiting for <what>". `what` may
 * be a function, to describe the state at the moment of the timeout (the frames seen so far).
 */
export function deadline<T>(promise: PromiseLike<T>, what: string | (() => string), timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const describe = typeof what === "string" ? () => what : what;
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Polls `condition` until it holds, for state that no event announces (an HTTP endpoint, a
 * database row); fails after `timeoutMs` with `what` and, if given, `describe()` of the state seen.
 */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = DEFAULT_WAIT_MS, describe?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `; saw ${describe()}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
