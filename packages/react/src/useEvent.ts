/**
 * Calls `handler(data, frame)` for every `type` event on `channel` while mounted. The latest
 * handler is always the one called, so it may close over fresh props and state without
 * resubscribing on every render.
 */

import { useEffect, useLayoutEffect, useRef } from "react";
import type { EventFrame } from "@herald/client";
import { useHerald } from "./context.js";

// useLayoutEffect warns during server rendering; there is nothing to update there anyway.
const useIsomorphicLayoutEffect = typeof document === "undefined" ? useEffect : useLayoutEffect;

export function useEvent<T = unknown>(channel: string, type: string, handler: (data: T, event: EventFrame<T>) => void): void {
  const herald = useHerald();
  const latest = useRef(handler);
  useIsomorphicLayoutEffect(() => {
    latest.current = handler;
  });
  useEffect(() => {
    const subscription = herald.subscribe<Record<string, T>>(channel);
    subscription.on(type, (data, event) => latest.current(data, event));
    return () => subscription.unsubscribe();
  }, [herald, channel, type]);
}
