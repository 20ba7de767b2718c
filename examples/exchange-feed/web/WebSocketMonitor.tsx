/**
 * The seed's WebSocketMonitor: a bare WebSocket to /api/v1/ws/coindcx, a colour-coded card per
 * event, newest first, the last 100 kept, a ping every 25 s, a reconnect 5 s after a drop. What
 * changed: Herald's frames carry `channel`, `offset` and `epoch` beside `type`, `data` and
 * `timestamp`, and `connected` stands for the seed's "system" greeting.
 */

import { useEffect, useState } from "react";

interface MonitorEvent {
  id: string;
  timestamp: string;
  type: string;
  data: Record<string, unknown>;
}

const MAX_EVENTS = 100;
// Protocol frames that are not feed events (see docs/protocol.md).
const CONTROL = new Set(["subscribed", "unsubscribed", "ping", "pong", "error"]);

export function WebSocketMonitor() {
  const [events, setEvents] = useState<MonitorEvent[]>([]);
  const [connected, setConnected] = useState(false);
  const [reconnecting, setReconnecting] = useState(false);

  useEffect(() => {
    let ws: WebSocket | undefined;
    let pingInterval: ReturnType<typeof setInterval> | undefined;
    let reconnectTimeout: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const add = (event: MonitorEvent) => setEvents((list) => [event, ...list].slice(0, MAX_EVENTS));

    const connect = () => {
      ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/v1/ws/coindcx`);
      ws.onopen = () => {
        setConnected(true);
        setReconnecting(false);
        pingInterval = setInterval(() => ws?.send(JSON.stringify({ type: "ping" })), 25_000);
      };
      ws.onmessage = (message) => {
        const frame = JSON.parse(message.data as string) as Record<string, unknown>;
        if (frame.type === "connected") {
          add({ id: `system-${String(frame.connectionId)}`, timestamp: new Date().toISOString(), type: "system", data: { message: "Connected to CoinDCX WebSocket bridge" } });
          return;
        }
        if (CONTROL.has(String(frame.type))) return;
        add({ id: `${String(frame.epoch)}:${frame.offset}`, timestamp: String(frame.timestamp), type: String(frame.type), data: (frame.data ?? {}) as Record<string, unknown> });
      };
      ws.onerror = () => console.error("monitor: WebSocket error");
      ws.onclose = () => {
        setConnected(false);
        clearInterval(pingInterval);
        if (closed) return;
        setReconnecting(true);
        reconnectTimeout = setTimeout(connect, 5_000);
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(reconnectTimeout);
      ws?.close();
    };
  }, []);

  return (
    <section>
      <header>
        <h1>CoinDCX Futures · live</h1>
        <span id="connection" className={connected ? "live" : reconnecting ? "reconnecting" : "offline"}>{connected ? "Live" : reconnecting ? "Reconnecting…" : "Offline"}</span>
      </header>
      <ol id="events">
        {events.map((event) => (
          <li key={event.id} className={`card ${event.type}`} data-type={event.type}>
            <div className="meta">
              <strong>{event.type}</strong> <time>{new Date(event.timestamp).toLocaleTimeString()}</time>
            </div>
            <Summary event={event} />
          </li>
        ))}
      </ol>
    </section>
  );
}

function Summary({ event }: { event: MonitorEvent }) {
  const d = event.data;
  switch (event.type) {
    case "order":
      return <p className="summary">{String(d.display_message)} {String(d.pair)} · {String(d.side)} {String(d.total_quantity)} @ {String(d.price)} · {String(d.status)}</p>;
    case "position":
      return <p className="summary">{String(d.pair)} · active {String(d.active_pos)} @ {String(d.avg_price)} · PnL {String(d.unrealized_pnl)}</p>;
    case "balance":
      return <p className="summary">{String(d.currency_short_name)} {Number(d.balance).toFixed(2)} · locked {Number(d.locked_balance).toFixed(2)}</p>;
    default:
      return <p className="summary">{String(d.message ?? JSON.stringify(d))}</p>;
  }
}
