/** The connection's state and its details (attempt, nextDelay, transport); re-renders on each change. */

import { useCallback, useSyncExternalStore } from "react";
import type { StateChange } from "@herald/client";
import { useHerald } from "./context.js";

export function useConnectionState(): StateChange {
  const herald = useHerald();
  const subscribe = useCallback((notify: () => void) => herald.on("state", notify), [herald]);
  const snapshot = () => herald.lastStateChange;
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
