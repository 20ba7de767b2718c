// The seed's hook again on @herald/client: the same arguments and answer as useRealTimeUpdates,
// so the page uses either (`?client=sdk`). The SDK subscribes to the bettor's channel on Herald's
// own endpoint, falls back to SSE and polling by itself, and resumes with `since` after a drop, so
// it needs neither the seed's polling loop nor its duplicate filter.

import { useEffect, useRef, useState } from "react";
import { Herald } from "@herald/client";
import type { BetUpdate, Mode } from "./useRealTimeUpdates.js";

type BetEvents = Record<BetUpdate["type"], Omit<BetUpdate, "type">>;

const TYPES: ReadonlyArray<BetUpdate["type"]> = ["bet_resolved", "bet_disputed", "bet_updated"];

export function useHeraldUpdates(userId: string, onBetUpdate: (update: BetUpdate) => void) {
  const [mode, setMode] = useState<Mode>("connecting");
  const [error, setError] = useState<string | null>(null);
  const [lastMessage, setLastMessage] = useState<BetUpdate | null>(null);
  const handler = useRef(onBetUpdate);
  handler.current = onBetUpdate;

  useEffect(() => {
    const herald = new Herald({ url: location.origin });
    herald.on("state", ({ newState, transport }) => setMode(newState !== "connected" ? "connecting" : transport === "websocket" ? "connected" : "polling"));
    const subscription = herald.subscribe<BetEvents>(`bets:user:${userId}`);
    for (const type of TYPES) {
      subscription.on(type, (data) => {
        const update = { ...data, type } as BetUpdate;
        setLastMessage(update);
        handler.current(update);
      });
    }
    subscription.on("subscribed", () => setError(null));
    subscription.on("error", ({ message }) => setError(message));
    herald.connect();
    return () => {
      subscription.unsubscribe();
      herald.disconnect();
    };
  }, [userId]);

  return { isConnected: mode === "connected", mode, error, lastMessage };
}
