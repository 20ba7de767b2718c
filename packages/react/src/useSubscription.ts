/**
 * Holds a subscription to `channel` while the component is mounted and returns its state
 * (`status`, `recovered`, `error`). Every component on one channel shares one server subscription.
 */

import { useCallback, useSyncExternalStore } from "react";
import type { SubscriptionSnapshot } from "@herald/client";
import { useHerald } from "./context.js";

const SUBSCRIBING: SubscriptionSnapshot = { status: "subscribing", recovered: false };

export function useSubscription(channel: string): SubscriptionSnapshot {
  const herald = useHerald();
  // The store's subscribe takes the subscription, so React's own mount/unmount (StrictMode
  // included) drives it; the client defers the release, so a quick re-mount keeps it.
  const subscribe = useCallback(
    (notify: () => void) => {
      const subscription = herald.subscribe(channel);
      const stop = subscription.watch(notify);
      return () => {
        stop();
        subscription.unsubscribe();
      };
    },
    [herald, channel],
  );
  const snapshot = () => herald.channel(channel)?.state ?? SUBSCRIBING;
  return useSyncExternalStore(subscribe, snapshot, () => SUBSCRIBING);
}
