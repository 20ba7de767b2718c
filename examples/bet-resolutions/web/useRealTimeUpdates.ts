// The seed's hook: one WebSocket to /ws/bet-updates?user_id=…, reconnecting with exponential
// backoff. While it is down the hook polls /api/v1/bets/updates, and after a reconnect it polls once
// more, so an update sent in between is not lost; updates seen twice are dropped.
// A frame that names its position (channel and offset: the server runs with EMAIL_WHEN=unseen) is
// acknowledged once its handler returned, so the bettor who saw the toast gets no email.

import { useEffect, useRef, useState } from "react";

export interface BetUpdate {
  type: "bet_resolved" | "bet_disputed" | "bet_updated";
  bet_id: string;
  user_id: string;
  data: { bet_id: string; status: string; result: string | null; resolution_notes: string | null; title: string; updated_at: string };
  timestamp: string;
}

export type Mode = "connecting" | "connected" | "polling";

export function useRealTimeUpdates(userId: string, onBetUpdate: (update: BetUpdate) => void) {
  const [mode, setMode] = useState<Mode>("connecting");
  const [error, setError] = useState<string | null>(null);
  const [lastMessage, setLastMessage] = useState<BetUpdate | null>(null);
  const handler = useRef(onBetUpdate);
  handler.current = onBetUpdate;

  useEffect(() => {
    let socket: WebSocket | undefined;
    let stopped = false;
    let attempt = 0;
    let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
    let pollTimer: ReturnType<typeof setInterval> | undefined;
    let since = new Date().toISOString();
    const seen = new Set<string>();

    const deliver = (update: BetUpdate) => {
      const key = `${update.type}|${update.bet_id}|${update.timestamp}`;
      if (seen.has(key)) return;
      seen.add(key);
      if (update.timestamp > since) since = update.timestamp;
      setLastMessage(update);
      handler.current(update);
    };
    const poll = async () => {
      try {
        const response = await fetch(`/api/v1/bets/updates?user_id=${encodeURIComponent(userId)}&since=${encodeURIComponent(since)}`);
        const body = (await response.json()) as { updates: BetUpdate[] };
        for (const update of body.updates) deliver(update);
      } catch {
        // the next poll tries again
      }
    };
    const connect = () => {
      const url = new URL(`/ws/bet-updates?user_id=${encodeURIComponent(userId)}`, location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempt = 0;
        setMode("connected");
        setError(null);
        clearInterval(pollTimer);
        pollTimer = undefined;
        void poll(); // what was sent while the socket was down
      };
      socket.onmessage = (message) => {
        const frame = JSON.parse(message.data as string) as { type: string; message?: string; channel?: unknown; offset?: unknown };
        if (frame.type === "ping") socket?.send('{"type":"pong"}');
        else if (frame.type === "error") setError(frame.message ?? "error");
        else if (frame.type === "bet_resolved" || frame.type === "bet_disputed" || frame.type === "bet_updated") {
          deliver(frame as BetUpdate);
          if (typeof frame.channel === "string" && typeof frame.offset === "number") socket?.send(JSON.stringify({ type: "ack", channel: frame.channel, offset: frame.offset }));
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        setMode("polling");
        pollTimer ??= setInterval(() => void poll(), 5_000);
        const delay = Math.min(1_000 * 2 ** attempt, 30_000);
        attempt += 1;
        reconnectTimer = setTimeout(connect, delay);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(reconnectTimer);
      clearInterval(pollTimer);
      socket?.close(1000);
    };
  }, [userId]);

  return { isConnected: mode === "connected", mode, error, lastMessage };
}
