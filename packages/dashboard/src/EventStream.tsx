/**
 * The live event list: toolbar (pause, filters, search, export), a virtualised list (only the
 * rows in view are in the DOM, so 1,000 events at 1,000 a second stay smooth) and the detail
 * view of the selected event. Event data is rendered as React text, never as HTML.
 */

import { useMemo, useRef, useState, useSyncExternalStore, type UIEvent } from "react";
import type { EventStore } from "./event-store";
import type { ShownEvent } from "./feed-event";
import { colourOf } from "./event-colour";
import { matcher, NO_FILTERS, type Filters } from "./filters";
import { download, toCsv, toJson } from "./export-events";

const ROW_HEIGHT = 32;
const OVERSCAN = 8;

export function EventStream({ store }: { store: EventStore }) {
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [selected, setSelected] = useState<ShownEvent | undefined>(undefined);
  const shown = useMemo(() => snapshot.events.filter(matcher(filters)), [snapshot.events, filters]);
  const types = useMemo(() => [...store.types].sort(), [store, snapshot.received]);
  const set = (change: Partial<Filters>) => setFilters((old) => ({ ...old, ...change }));
  const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");

  return (
    <section className="stream">
      <div className="toolbar">
        <button id="pause" className={snapshot.paused ? "primary" : ""} onClick={() => (snapshot.paused ? store.resume() : store.pause())}>
          {snapshot.paused ? `Resume${snapshot.waiting > 0 ? ` (${snapshot.waiting} new)` : ""}` : "Pause"}
        </button>
        <input id="filter-channel" placeholder="channel, e.g. user:*" value={filters.channel} onChange={(e) => set({ channel: e.target.value })} />
        <select id="filter-type" value={filters.type} onChange={(e) => set({ type: e.target.value })}>
          <option value="">all types</option>
          {types.map((type) => (
            <option key={type} value={type}>{type}</option>
          ))}
        </select>
        <input id="search" type="search" placeholder="search data…" value={filters.search} onChange={(e) => set({ search: e.target.value })} />
        <span className="summary">
          <span id="shown-count" className="muted">{shown.length} shown · {snapshot.received} received</span>
          <button id="export-json" onClick={() => download(`herald-events-${stamp()}.json`, "application/json", toJson(shown.map((s) => s.event)))}>JSON</button>
          <button id="export-csv" onClick={() => download(`herald-events-${stamp()}.csv`, "text/csv", toCsv(shown.map((s) => s.event)))}>CSV</button>
          <button id="clear" onClick={() => { store.clear(); setSelected(undefined); }}>Clear</button>
        </span>
      </div>
      <div className="stream-body">
        <VirtualList rows={shown} selected={selected?.seq} onSelect={setSelected} />
        {selected && <EventDetail shown={selected} onClose={() => setSelected(undefined)} />}
      </div>
    </section>
  );
}

function VirtualList({ rows, selected, onSelect }: { rows: readonly ShownEvent[]; selected: number | undefined; onSelect(row: ShownEvent): void }) {
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const box = useRef<HTMLDivElement | null>(null);
  const onScroll = (e: UIEvent<HTMLDivElement>) => {
    setScrollTop(e.currentTarget.scrollTop);
    setHeight(e.currentTarget.clientHeight);
  };
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + (box.current?.clientHeight ?? height)) / ROW_HEIGHT) + OVERSCAN);
  if (rows.length === 0) {
    return <div id="events" className="events empty">No events yet. Publish one with POST /api/publish, or from the Channels tab.</div>;
  }
  return (
    <div id="events" className="events" ref={box} onScroll={onScroll}>
      <div style={{ height: rows.length * ROW_HEIGHT, position: "relative" }}>
        {rows.slice(first, last).map((row, i) => (
          <EventRow key={row.seq} row={row} top={(first + i) * ROW_HEIGHT} selected={row.seq === selected} onSelect={onSelect} />
        ))}
      </div>
    </div>
  );
}

function EventRow({ row, top, selected, onSelect }: { row: ShownEvent; top: number; selected: boolean; onSelect(row: ShownEvent): void }) {
  const { event } = row;
  const colour = colourOf(event.type);
  return (
    <div
      className={`event-row${selected ? " selected" : ""}`}
      data-type={event.type}
      data-channel={event.channel}
      style={{ top, height: ROW_HEIGHT, borderLeftColor: colour }}
      onClick={() => onSelect(row)}
    >
      <span className="event-time">{event.timestamp.slice(11, 23)}</span>
      <span className="event-type" style={{ color: colour, borderColor: colour }}>{event.type}</span>
      <span className="event-channel">{event.channel}</span>
      <span className="event-offset">#{event.offset}</span>
      <span className="event-data">{row.dataText}</span>
    </div>
  );
}

function EventDetail({ shown, onClose }: { shown: ShownEvent; onClose(): void }) {
  const raw = JSON.stringify(shown.event, null, 2);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(raw).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1200);
  };
  return (
    <aside id="detail" className="detail">
      <header>
        <span className="event-type" style={{ color: colourOf(shown.event.type), borderColor: colourOf(shown.event.type) }}>{shown.event.type}</span>
        <span className="spacer" />
        <button id="copy" onClick={copy}>{copied ? "Copied" : "Copy JSON"}</button>
        <button onClick={onClose} aria-label="close">✕</button>
      </header>
      <dl>
        <dt>channel</dt><dd>{shown.event.channel}</dd>
        <dt>offset</dt><dd>{shown.event.offset}</dd>
        <dt>epoch</dt><dd>{shown.event.epoch}</dd>
        <dt>time</dt><dd>{shown.event.timestamp}</dd>
        {shown.event.traceId && (
          <>
            <dt>trace</dt><dd id="detail-trace" className="code">{shown.event.traceId}</dd>
          </>
        )}
      </dl>
      <pre id="detail-json">{raw}</pre>
    </aside>
  );
}
