/**
 * The seed's VaultDashboard on Herald's React bindings: no socket, no parsing, no reconnect code.
 * The SDK subscribes to `vault:<owner>`, recovers what it missed after a reconnect, and the hooks
 * hand each event to the component. The first paint comes from the REST balance; after that the
 * newest balance_update wins.
 */

import { useEffect, useState } from "react";
import { useConnectionState, useEvent, useLatest, useSubscription } from "@herald/react";
import { formatUSDT } from "./format.js";

type Balance = { totalBalance: number; availableBalance: number; lockedBalance: number };
type Confirmed = { transactionId: string; transactionType: "deposit" | "withdraw"; amount: number };
type Collateral = { positionId: string; amount: number; lockedBalance: number; availableBalance: number };
type Position = { positionId: string; amount: number };

export function VaultDashboard({ owner }: { owner: string }) {
  const channel = `vault:${owner}`;
  const { newState } = useConnectionState();
  const { status } = useSubscription(channel);
  // "live" once the subscription holds: from then on no change to the vault is missed.
  const badge = newState === "connected" && status === "subscribed" ? "live" : newState;
  const live = useLatest<Balance>(channel, "balance_update");
  const [loaded, setLoaded] = useState<Balance & { positions: Position[] }>();
  const [positions, setPositions] = useState<Position[]>([]);
  const [notifications, setNotifications] = useState<string[]>([]);

  useEffect(() => {
    void fetch(`/vault/balance/${owner}`)
      .then((response) => response.json())
      .then((vault: Balance & { positions: Position[] }) => {
        setLoaded(vault);
        setPositions((current) => (current.length > 0 ? current : vault.positions));
      });
  }, [owner]);

  useEvent<Confirmed>(channel, "transaction_confirmed", (tx) => setNotifications((list) => [`${tx.transactionType} of ${formatUSDT(tx.amount)} confirmed!`, ...list]));
  useEvent<Collateral>(channel, "collateral_locked", (event) => {
    setPositions((list) => [...list.filter((p) => p.positionId !== event.positionId), { positionId: event.positionId, amount: event.amount }]);
    setNotifications((list) => [`${formatUSDT(event.amount)} locked for ${event.positionId}`, ...list]);
  });
  useEvent<Collateral>(channel, "collateral_unlocked", (event) => {
    setPositions((list) => list.filter((p) => p.positionId !== event.positionId));
    setNotifications((list) => [`${formatUSDT(event.amount)} unlocked from ${event.positionId}`, ...list]);
  });

  const balance = live ?? loaded ?? { totalBalance: 0, availableBalance: 0, lockedBalance: 0 };
  return (
    <section className="card">
      <h2>
        Vault Balance <span className={`state ${badge === "live" ? "connected" : ""}`} id="connection">{badge}</span>
      </h2>
      <div className="figures">
        <p>Total<strong id="total">{formatUSDT(balance.totalBalance)}</strong></p>
        <p>Available<strong id="available">{formatUSDT(balance.availableBalance)}</strong></p>
        <p>Locked<strong id="locked">{formatUSDT(balance.lockedBalance)}</strong></p>
      </div>
      <h2 style={{ marginTop: 16 }}>Positions</h2>
      <ul id="positions">
        {positions.length === 0 ? <li>none</li> : positions.map((p) => <li key={p.positionId}>{p.positionId}: {formatUSDT(p.amount)} locked, active</li>)}
      </ul>
      <h2 style={{ marginTop: 16 }}>Notifications</h2>
      <ul id="notifications">
        {notifications.map((note, i) => <li key={notifications.length - i}>{note}</li>)}
      </ul>
    </section>
  );
}
