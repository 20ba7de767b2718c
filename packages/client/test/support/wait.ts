/** Test support: wait for a condition driven by events, bounded by a generous timeout. */

import type { Herald, ConnectionState, StateChange } from "../../src/index.js";

/** Resolves when `check()` is true; re-checks whenever `poke` is called (from event handlers). */
export function until(check: () => boolean, what: string, timeoutMs = 15_000): { done: Promise<void>; poke: () => void } {
  let poke = (): void => {};
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    poke = () => {
      if (!check()) return;
      clearTimeout(timer);
      resolve();
    };
    poke();
  });
  return { done, poke };
}

/** Waits for the client to enter a state; resolves with the change that led there. */
export function waitForState(herald: Herald, state: ConnectionState, timeoutMs = 15_000): Promise<StateChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for state ${state} (now ${herald.state})`));
    }, timeoutMs);
    const off = herald.on("state", (change) => {
      if (change.newState !== state) return;
      clearTimeout(timer);
      off();
      resolve(change);
    });
  });
}
