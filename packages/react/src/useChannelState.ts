/**
 * The app's state for `channel`, kept current by its events: `getState` loads it with the stream
 * position it reflects, and `reduce` applies each event after that position, each once (see
 * `subscribe(channel, { getState })` in @herald/client). Undefined until the first load; when
 * the channel's recovery fails the state is loaded again by itself. The latest `getState` and
 * `reduce` are always the ones called, so they may close over fresh props.
 */

import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { EventFrame, GetState } from "@herald/client";
import { useHerald } from "./context.js";

const useIsomorphicLayoutEffect = typeof document === "undefined" ? useEffect : useLayoutEffect;

export interface ChannelStateOptions<S> {
  /** Loads the state and the position it reflects: `{ state, position: { epoch, offset } }`. */
  getState: GetState<S>;
  /** The state after one more event. Must not change `state` in place. */
  reduce: (state: S, event: EventFrame) => S;
}

export function useChannelState<S>(channel: string, options: ChannelStateOptions<S>): S | undefined {
  const herald = useHerald();
  const latest = useRef(options);
  useIsomorphicLayoutEffect(() => {
    latest.current = options;
  });
  const [current, setCurrent] = useState<{ channel: string; state: S } | undefined>(undefined);
  useEffect(() => {
    let state: { channel: string; state: S } | undefined;
    const subscription = herald.subscribe(channel, { getState: () => latest.current.getState() });
    subscription.on("state_loaded", (context) => {
      state = { channel, state: context.state as S };
      setCurrent(state);
    });
    subscription.onEvent((event) => {
      if (!state) return;
      state = { channel, state: latest.current.reduce(state.state, event) };
      setCurrent(state);
    });
    return () => subscription.unsubscribe();
  }, [herald, channel]);
  return current?.channel === channel ? current.state : undefined;
}
