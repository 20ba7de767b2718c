/**
 * The seed's own hand-written component, kept as it was apart from the URL: a bare WebSocket to
 * /ws/<pubkey>, frames keyed `event`. It shows that existing clients work against Herald with no
 * change; what it lacks (reconnect, recovery of missed updates) is what VaultDashboard gains.
 */

import { useEffect, useState } from "react";
import { formatUSDT } from "./format.js";

export function SeedVaultDashboard({ userAddress }: { userAddress: string }) {
  const [balance, setBalance] = useState({ total: 0, available: 0, locked: 0 });
  const [notifications, setNotifications] = useState<string[]>([]);
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/ws/${userAddress}`);
    ws.onopen = () => setConnected(true);
    ws.onclose = () => setConnected(false);

    ws.onmessage = (event) => {
      const message = JSON.parse(event.data as string);

      if (message.event === "balance_update") {
        setBalance({
          total: message.data.totalBalance,
          available: message.data.availableBalance,
          locked: message.data.lockedBalance,
        });
      }

      if (message.event === "transaction_confirmed") {
        setNotifications((prev) => [...prev, `${message.data.transactionType} confirmed!`]);
      }
    };

    return () => ws.close();
  }, [userAddress]);

  return (
    <section className="card">
      <h2>
        Vault Balance (seed client) <span className={`state ${connected ? "connected" : ""}`} id="connection">{connected ? "connected" : "disconnected"}</span>
      </h2>
      <div className="figures">
        <p>Total<strong id="total">{formatUSDT(balance.total)}</strong></p>
        <p>Available<strong id="available">{formatUSDT(balance.available)}</strong></p>
        <p>Locked<strong id="locked">{formatUSDT(balance.locked)}</strong></p>
      </div>
      <ul id="notifications">
        {notifications.map((notif, i) => <li key={i}>{notif}</li>)}
      </ul>
    </section>
  );
}
