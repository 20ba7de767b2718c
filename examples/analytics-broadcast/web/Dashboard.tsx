/**
 * The analytics dashboard: anchors, corridors and the latest snapshot, loaded once from the REST
 * API and then kept current by the seed's hooks.
 */

import { useEffect, useState } from "react";
import { useAnchorUpdates, useCorridorUpdates, useSnapshotUpdates, useWebSocket, type AnchorUpdate, type CorridorUpdate, type SnapshotUpdate } from "./useWebSocket.js";

type Anchor = Omit<AnchorUpdate, "type">;
type Corridor = Omit<CorridorUpdate, "type">;
type Snapshot = Omit<SnapshotUpdate, "type">;

function upsert<T>(list: T[], item: T, same: (a: T, b: T) => boolean): T[] {
  return list.some((x) => same(x, item)) ? list.map((x) => (same(x, item) ? item : x)) : [...list, item];
}

export function Dashboard() {
  const { isConnected, lastMessage, error } = useWebSocket();
  const [anchors, setAnchors] = useState<Anchor[]>([]);
  const [corridors, setCorridors] = useState<Corridor[]>([]);
  const [snapshot, setSnapshot] = useState<Snapshot>();

  useEffect(() => {
    void Promise.all([fetch("/api/anchors"), fetch("/api/corridors"), fetch("/api/snapshots")]).then(async ([a, c, s]) => {
      const loadedAnchors = (await a.json()) as Array<{ id: string } & Omit<Anchor, "anchor_id">>;
      const loadedCorridors = (await c.json()) as Array<{ id: string } & Omit<Corridor, "corridor_id">>;
      const snapshots = (await s.json()) as Array<{ id: string } & Omit<Snapshot, "snapshot_id">>;
      // Updates that arrived first are newer than the list: merge so they win.
      setAnchors((live) => live.reduce((list, x) => upsert(list, x, (p, q) => p.anchor_id === q.anchor_id), loadedAnchors.map(({ id, ...rest }) => ({ anchor_id: id, ...rest }))));
      setCorridors((live) => live.reduce((list, x) => upsert(list, x, (p, q) => p.corridor_id === q.corridor_id), loadedCorridors.map(({ id, ...rest }) => ({ corridor_id: id, ...rest }))));
      const last = snapshots.at(-1);
      if (last) setSnapshot((live) => live ?? { snapshot_id: last.id, epoch: last.epoch, timestamp: last.timestamp, hash: last.hash });
    });
  }, []);

  useAnchorUpdates(({ type: _, ...anchor }) => setAnchors((list) => upsert(list, anchor, (a, b) => a.anchor_id === b.anchor_id)));
  useCorridorUpdates(({ type: _, ...corridor }) => setCorridors((list) => upsert(list, corridor, (a, b) => a.corridor_id === b.corridor_id)));
  useSnapshotUpdates(({ type: _, ...latest }) => setSnapshot((current) => (current && current.epoch > latest.epoch ? current : latest)));

  return (
    <>
      <header>
        <h1>Stellar corridor analytics</h1>
        <span id="status" className={`status ${isConnected ? "on" : "off"}`}>{isConnected ? "Connected" : "Disconnected"}</span>
      </header>
      {error && <p id="error" className="error">{error}</p>}
      <section className="card">
        <h2>Anchors</h2>
        <table id="anchors">
          <thead><tr><th>Name</th><th>Reliability</th><th>Status</th></tr></thead>
          <tbody>
            {anchors.map((a) => (
              <tr key={a.anchor_id}>
                <td className="name">{a.name}</td>
                <td>{a.reliability_score.toFixed(1)}%</td>
                <td><span className={`dot ${a.status}`} /> {a.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h2>Corridors</h2>
        <table id="corridors">
          <thead><tr><th>Corridor</th><th>Success</th><th>Volume</th><th>Transactions</th></tr></thead>
          <tbody>
            {corridors.map((c) => (
              <tr key={c.corridor_id}>
                <td className="name">{c.corridor_key}</td>
                <td>{c.success_rate.toFixed(1)}%</td>
                <td>${c.volume_usd.toLocaleString("en-US")}</td>
                <td>{c.total_transactions.toLocaleString("en-US")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h2>Snapshot</h2>
        <p id="snapshot">{snapshot ? `epoch ${snapshot.epoch} · ${snapshot.hash.slice(0, 12)}…` : "none yet"}</p>
      </section>
      <section className="card">
        <h2>Last message</h2>
        <pre id="last-message">{lastMessage ? JSON.stringify(lastMessage, null, 2) : "—"}</pre>
      </section>
    </>
  );
}
