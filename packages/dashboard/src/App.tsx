/** The dashboard: header with the feed's state, live figures, and the Events / Channels views. */

import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { AdminFeed } from "./admin-feed";
import { EventStore } from "./event-store";
import { StatusPoller } from "./status";
import { EventStream } from "./EventStream";
import { Channels } from "./Channels";
import { Health, RateChart, StatCards, Transports } from "./Figures";
import { DeadLetters } from "./DeadLetters";

function uptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${seconds % 60}s` : `${seconds}s`;
}

export function App() {
  const store = useMemo(() => new EventStore(1000), []);
  const feed = useMemo(() => new AdminFeed("/api/admin/events", (event) => store.add(event)), [store]);
  const poller = useMemo(() => new StatusPoller(), []);
  const [view, setView] = useState<"events" | "channels">("events");
  useEffect(() => {
    feed.start();
    poller.start();
    return () => { feed.stop(); poller.stop(); };
  }, [feed, poller]);
  const feedStatus = useSyncExternalStore(feed.subscribe, feed.getStatus);
  useSyncExternalStore(poller.subscribe, poller.getVersion);
  const status = poller.status;
  const latest = poller.samples.at(-1);

  return (
    <div className="app">
      <header className="top">
        <div className="brand"><span className="logo">◆</span> Herald</div>
        <div className="muted">{feedStatus.node ?? status?.node ?? ""} {status ? `· v${status.version} · up ${uptime(status.uptime)}` : ""}</div>
        <span className="spacer" />
        {feedStatus.dropped > 0 && <span className="warn small">{feedStatus.dropped} events skipped (page too slow)</span>}
        <span id="feed-state" className={`pill ${feedStatus.state}`} title={`reconnected ${feedStatus.reconnects} times`}>
          <span className="dot" />{feedStatus.state === "live" ? "live" : feedStatus.state === "connecting" ? "connecting…" : "reconnecting…"}
        </span>
      </header>
      {status?.detail && <div className="banner bad">{status.detail}</div>}
      {poller.error && <div className="banner bad">{poller.error}</div>}
      <StatCards status={status} latest={latest} />
      <div className="main">
        <div className="left">
          <nav className="tabs">
            <button id="tab-events" className={view === "events" ? "active" : ""} onClick={() => setView("events")}>Events</button>
            <button id="tab-channels" className={view === "channels" ? "active" : ""} onClick={() => setView("channels")}>Channels</button>
          </nav>
          {view === "events" ? <EventStream store={store} /> : <Channels />}
        </div>
        <div className="right">
          <RateChart samples={poller.samples} />
          <Transports status={status} latest={latest} />
          <Health status={status} />
          <DeadLetters status={status} refresh={poller.refresh} />
        </div>
      </div>
    </div>
  );
}
