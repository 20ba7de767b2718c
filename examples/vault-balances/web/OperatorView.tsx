/**
 * The operations desk's view of every vault it looks after: one pattern subscription,
 * `ops:vault:*`, filtered on the server to the desk's vaults (`desk=north`), each snapshot arriving
 * as a delta from the vault's previous one (the SDK asks for deltas and hands over whole data).
 * A vault appears at its first change after the page opened.
 */

import { useEffect, useState } from "react";
import type { Herald } from "@herald/client";
import { formatUSDT } from "./format.js";

type Snapshot = {
  owner: string;
  totalBalance: number;
  lockedBalance: number;
  availableBalance: number;
  positions: Array<{ positionId: string; amount: number }>;
  recent: Array<{ type: string; amount: number; positionId?: string }>;
};

export function OperatorView({ herald, desk }: { herald: Herald; desk: string }) {
  const [vaults, setVaults] = useState<Record<string, Snapshot>>({});
  const [status, setStatus] = useState("connecting");

  useEffect(() => {
    const subscription = herald.subscribe<{ vault_snapshot: Snapshot }>("ops:vault:*", { filter: `desk=${desk}` });
    const stopWatching = subscription.watch(() => setStatus(subscription.state.status));
    subscription.on("vault_snapshot", (snapshot) => setVaults((current) => ({ ...current, [snapshot.owner]: snapshot })));
    herald.connect();
    return () => {
      stopWatching();
      subscription.unsubscribe();
    };
  }, [herald, desk]);

  const rows = Object.values(vaults).sort((a, b) => a.owner.localeCompare(b.owner));
  return (
    <section className="card">
      <h2>
        Desk {desk}: every vault <span className={`state ${status === "subscribed" ? "connected" : ""}`} id="operator-status">{status === "subscribed" ? "live" : status}</span>
      </h2>
      <p className="owner">ops:vault:* where desk={desk}, as deltas</p>
      <ul id="vaults">
        {rows.map((vault) => (
          <li key={vault.owner} id={`vault-${vault.owner}`}>
            {vault.owner.slice(0, 8)}…: {formatUSDT(vault.totalBalance)} total, {formatUSDT(vault.lockedBalance)} locked in {vault.positions.length} position
            {vault.positions.length === 1 ? "" : "s"}; last: {vault.recent[0] ? `${vault.recent[0].type} ${formatUSDT(vault.recent[0].amount)}` : "none"}
          </li>
        ))}
      </ul>
      {rows.length === 0 && <p className="owner" id="no-vaults">no change to this desk's vaults since the page opened</p>}
    </section>
  );
}
