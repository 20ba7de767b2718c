/**
 * The seed's hooks (`@/hooks/useWebSocket`), same names and same message shapes, written over
 * Herald's React bindings. The seed kept one hand-made socket per app with its own reconnect
 * loop (five attempts) and heartbeat; here the HeraldProvider's client is that one connection,
 * and reconnecting, heartbeats and recovery of missed updates are the SDK's.
 */

import { useState } from "react";
import { useConnectionState, useEvent, useHerald } from "@herald/react";

export interface SnapshotUpdate {
  type: "snapshot_update";
  snapshot_id: string;
  epoch: number;
  timestamp: string;
  hash: string;
}

export interface CorridorUpdate {
  type: "corridor_update";
  corridor_id: string;
  corridor_key: string;
  success_rate: number;
  volume_usd: number;
  total_transactions: number;
}

export interface AnchorUpdate {
  type: "anchor_update";
  anchor_id: string;
  name: string;
  reliability_score: number;
  status: "green" | "yellow" | "red";
}

export type WebSocketMessage = SnapshotUpdate | CorridorUpdate | AnchorUpdate;

type Body<M extends WebSocketMessage> = Omit<M, "type">;

// The channels the seed's single /ws endpoint carried, one per kind of update.
const CHANNELS = { snapshot_update: "analytics:snapshots", corridor_update: "analytics:corridors", anchor_update: "analytics:anchors" } as const;

/** Calls `onUpdate` with each update of one kind, flat as the seed's messages were. */
function useUpdates<M extends WebSocketMessage>(type: M["type"], onUpdate: (update: M) => void): void {
  useEvent<Body<M>>(CHANNELS[type], type, (data) => onUpdate({ type, ...data } as M));
}

export const useSnapshotUpdates = (onUpdate: (update: SnapshotUpdate) => void) => useUpdates("snapshot_update", onUpdate);
export const useCorridorUpdates = (onUpdate: (update: CorridorUpdate) => void) => useUpdates("corridor_update", onUpdate);
export const useAnchorUpdates = (onUpdate: (update: AnchorUpdate) => void) => useUpdates("anchor_update", onUpdate);

export interface UseWebSocketOptions {
  onMessage?: (message: WebSocketMessage) => void;
}

export interface UseWebSocketResult {
  isConnected: boolean;
  lastMessage: WebSocketMessage | null;
  /** Why the server refused the connection (a wrong token, say); retrying cannot help then. */
  error: string | null;
  connect(): void;
  disconnect(): void;
}

/**
 * Connection status and every update. `autoConnect: false` in the seed is
 * `<HeraldProvider autoConnect={false}>` here; `ping` is gone, since the client answers the
 * server's pings itself and replaces a connection that falls silent.
 */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketResult {
  const herald = useHerald();
  const state = useConnectionState();
  const [lastMessage, setLastMessage] = useState<WebSocketMessage | null>(null);
  const receive = (message: WebSocketMessage) => {
    setLastMessage(message);
    options.onMessage?.(message);
  };
  useSnapshotUpdates(receive);
  useCorridorUpdates(receive);
  useAnchorUpdates(receive);
  return {
    isConnected: state.newState === "connected",
    lastMessage,
    error: state.newState === "failed" ? (state.message ?? `connection closed (${state.code ?? "no code"})`) : null,
    connect: () => herald.connect(),
    disconnect: () => herald.disconnect(),
  };
}
