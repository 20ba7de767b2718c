/**
 * The data of the newest `type` event on `channel` (undefined until one arrives), re-rendering
 * when a newer one comes. Holds the subscription while mounted.
 */

import { useCallback, useSyncExternalStore } from "react";
import { useHerald } from "./context.js";

export function useLatest<T = unknown>(channel: string, type: string): T | undefined {
  const herald = useHerald();
  const subscribe = useCallback(
    (notify: () => void) => {
      const subscription = herald.subscribe(channel);
      subscription.on(type, notify);
      return () => subscription.unsubscribe();
    },
    [herald, channel, type],
  );
  const snapshot = () => herald.channel<Record<string, T>>(channel)?.latest(type);
  return useSyncExternalStore(subscribe, snapshot, () => undefined);
}
