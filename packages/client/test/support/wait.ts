/** Test support: wait for a condition driven by events, bounded by a generous timeout. */

import type { Herald, ConnectionState, StateChange, SubscribedContext, Subscription } from "../../src/index.js";

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

/** Every `subscribed` one subscription heard, in order, and a wait on their number. */
export interface SubscribedLog {
  readonly contexts: SubscribedContext[];
  /** Resolves once `count` answers have been heard in all (a resubscribe after a reconnect adds one). */
  reach(count: number, what?: string): Promise<void>;
}

/**
 * Records the `subscribed` answers of `subscription`, connects `client` and waits for the first
 * one: the subscription is in place when this resolves, so what is published next is the client's.
 */
export async function connectSubscribed(client: Herald, subscription: Pick<Subscription, "on">): Promise<SubscribedLog> {
  const contexts: SubscribedContext[] = [];
  const waits = new Set<() => void>();
  subscription.on("subscribed", (context) => {
    contexts.push(context);
    for (const poke of [...waits]) poke();
  });
  const reach = async (count: number, what = `${count} subscribed answers`): Promise<void> => {
    const wait = until(() => contexts.length >= count, what);
    waits.add(wait.poke);
    try {
      await wait.done;
    } finally {
      waits.delete(wait.poke);
    }
  };
  client.connect();
  await reach(1, "subscribed");
  return { contexts, reach };
}

/**
 * A network drop under a subscribed client: takes `network` down, waits until the client is
 * reconnecting, runs `whileAway` (what only recovery can bring), brings the network back and waits
 * for the resubscribe. Resolves with the change to reconnecting.
 */
export async function dropAndResubscribe(client: Herald, network: { fail(): void; restore(): void }, subscribed: SubscribedLog, whileAway: () => Promise<unknown>): Promise<StateChange> {
  const answers = subscribed.contexts.length;
  const reconnecting = waitForState(client, "reconnecting");
  network.fail();
  const change = await reconnecting;
  await whileAway();
  network.restore();
  await subscribed.reach(answers + 1, "resubscribed");
  return change;
}
