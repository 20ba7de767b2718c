import { StrictMode, useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { useHeraldUpdates } from "./useHeraldUpdates.js";
import { useRealTimeUpdates, type BetUpdate } from "./useRealTimeUpdates.js";

// `?client=sdk`: the same page on @herald/client instead of the seed's own WebSocket hook.
const useUpdates = new URLSearchParams(location.search).get("client") === "sdk" ? useHeraldUpdates : useRealTimeUpdates;

interface Bet {
  id: string;
  user_id: string;
  title: string;
  stake: number;
  odds: number;
  status: string;
  result: string | null;
  resolution_notes: string | null;
  updated_at: string;
}

interface Toast {
  id: number;
  kind: "success" | "error" | "warning" | "info";
  title: string;
  message: string;
  betId: string;
}

const RESULT_TEXT: Record<string, string> = { win: "You won", loss: "You lost", push: "Push: stake returned", void: "Void: stake returned" };

function createBetNotification(update: BetUpdate, id: number): Toast {
  const { data } = update;
  if (update.type === "bet_resolved") {
    const kind = data.result === "win" ? "success" : data.result === "loss" ? "error" : "info";
    return { id, kind, title: `Bet resolved: ${RESULT_TEXT[data.result ?? ""] ?? data.result}`, message: `${data.title}${data.resolution_notes ? ` — ${data.resolution_notes}` : ""}`, betId: update.bet_id };
  }
  if (update.type === "bet_disputed") return { id, kind: "warning", title: "Bet disputed", message: data.title, betId: update.bet_id };
  return { id, kind: "info", title: "Bet updated", message: data.title, betId: update.bet_id };
}

function useToastNotifications() {
  const [notifications, setNotifications] = useState<Toast[]>([]);
  const removeNotification = useCallback((id: number) => setNotifications((all) => all.filter((toast) => toast.id !== id)), []);
  const addNotification = useCallback(
    (toast: Toast) => {
      setNotifications((all) => [...all, toast]);
      setTimeout(() => removeNotification(toast.id), 10_000);
    },
    [removeNotification],
  );
  return { notifications, addNotification, removeNotification };
}

function BetCard({ bet, flash }: { bet: Bet; flash: boolean }) {
  return (
    <div className={`bet${flash ? " flash" : ""}`} id={`bet-${bet.id}`} data-status={bet.status} data-result={bet.result ?? ""}>
      <h3>{bet.title}</h3>
      <div className="meta">
        <span>#{bet.id}</span>
        <span>
          ${bet.stake} @ {bet.odds}
        </span>
        <span className={`badge status ${bet.status}`}>{bet.status}</span>
        {bet.result && <span className={`badge result result-${bet.result}`}>{bet.result}</span>}
        {bet.resolution_notes && <span className="notes">{bet.resolution_notes}</span>}
      </div>
    </div>
  );
}

function BetList({ bets, flashing }: { bets: Bet[]; flashing: Set<string> }) {
  const [status, setStatus] = useState("all");
  const [result, setResult] = useState("all");
  const shown = bets.filter((bet) => (status === "all" || bet.status === status) && (result === "all" || bet.result === result));
  return (
    <section>
      <div className="filters">
        <label>
          Status
          <select id="status-filter" value={status} onChange={(event) => setStatus(event.target.value)}>
            {["all", "open", "settled", "disputed"].map((value) => <option key={value}>{value}</option>)}
          </select>
        </label>
        <label>
          Result
          <select id="result-filter" value={result} onChange={(event) => setResult(event.target.value)}>
            {["all", "win", "loss", "push", "void"].map((value) => <option key={value}>{value}</option>)}
          </select>
        </label>
      </div>
      {shown.map((bet) => <BetCard key={bet.id} bet={bet} flash={flashing.has(bet.id)} />)}
      {shown.length === 0 && <p>No bets match.</p>}
    </section>
  );
}

function App({ userId }: { userId: string }) {
  const [bets, setBets] = useState<Bet[]>([]);
  const [recent, setRecent] = useState<BetUpdate[]>([]);
  const [flashing, setFlashing] = useState<Set<string>>(new Set());
  const { notifications, addNotification, removeNotification } = useToastNotifications();

  useEffect(() => {
    void fetch(`/api/v1/bets?user_id=${encodeURIComponent(userId)}`)
      .then((response) => response.json())
      .then((body: { bets: Bet[] }) => setBets(body.bets));
  }, [userId]);

  const onBetUpdate = useCallback(
    (update: BetUpdate) => {
      setBets((all) => all.map((bet) => (bet.id === update.bet_id ? { ...bet, ...update.data, id: bet.id } : bet)));
      addNotification(createBetNotification(update, Date.now() + Math.random()));
      if (update.type === "bet_resolved") setRecent((all) => [update, ...all].slice(0, 5));
      setFlashing((all) => new Set(all).add(update.bet_id));
      setTimeout(() => setFlashing((all) => new Set([...all].filter((id) => id !== update.bet_id))), 1500);
    },
    [addNotification],
  );
  const { mode, error } = useUpdates(userId, onBetUpdate);

  return (
    <>
      <header>
        <h1>My bets</h1>
        <span id="connection" className={`connection ${mode}`}>
          {mode === "connected" ? "Live updates" : mode === "polling" ? "Reconnecting (polling)" : "Connecting…"}
          {error && ` — ${error}`}
        </span>
      </header>
      <div className="layout">
        <BetList bets={bets} flashing={flashing} />
        <aside>
          <h2>Recent resolutions</h2>
          <ul id="recent">
            {recent.map((update) => (
              <li key={`${update.bet_id}-${update.timestamp}`}>
                #{update.bet_id} {update.data.title}: <b>{update.data.result}</b>
              </li>
            ))}
          </ul>
          {recent.length === 0 && <p>None yet.</p>}
        </aside>
      </div>
      <div className="toasts" id="toasts">
        {notifications.map((toast) => (
          <div key={toast.id} className={`toast ${toast.kind}`} role="status">
            <strong>{toast.title}</strong>
            {toast.message}
            <div>
              <button onClick={() => document.getElementById(`bet-${toast.betId}`)?.scrollIntoView({ behavior: "smooth" })}>{toast.kind === "warning" ? "Review dispute" : "View bet"}</button>
              <button onClick={() => removeNotification(toast.id)}>Dismiss</button>
            </div>
          </div>
        ))}
      </div>
    </>
  );
}

const userId = new URLSearchParams(location.search).get("user_id") ?? "user456";
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App userId={userId} />
  </StrictMode>,
);
