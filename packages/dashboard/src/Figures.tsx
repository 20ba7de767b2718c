/** Live figures from /api/status: counters, an events-per-second chart, transports, errors, integrations. */

import type { GroupFigures, RateSample, Status, Transport } from "./status";
import { KEPT_SAMPLES, POLL_MS } from "./status";

const fmt = (n: number | undefined) => (n === undefined ? "–" : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n >= 100 ? Math.round(n).toLocaleString("en") : n >= 10 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, ""));

export function StatCards({ status, latest }: { status: Status | undefined; latest: RateSample | undefined }) {
  const cards: Array<[string, string, string?]> = [
    ["connections", fmt(status?.connections)],
    ["subscriptions", fmt(status?.subscriptions)],
    ["channels", fmt(status?.channels)],
    ["users", fmt(status?.users)],
    ["published/s", fmt(latest?.published), "published"],
    ["delivered/s", fmt(latest?.delivered), "delivered"],
  ];
  return (
    <div className="cards">
      {cards.map(([label, value, tone]) => (
        <div key={label} className={`card stat ${tone ?? ""}`} id={`stat-${label.replace("/s", "-rate")}`}>
          <div className="stat-value">{value}</div>
          <div className="stat-label">{label}</div>
        </div>
      ))}
    </div>
  );
}

export function RateChart({ samples }: { samples: readonly RateSample[] }) {
  const width = 360;
  const height = 110;
  const max = Math.max(1, ...samples.map((s) => Math.max(s.published, s.delivered)));
  // The window grows with the data from one minute up to KEPT_SAMPLES, so a fresh page has a readable chart.
  const span = Math.min(KEPT_SAMPLES, Math.max(samples.length, 30)) - 1;
  const x = (i: number) => width - (samples.length - 1 - i) * (width / span);
  const y = (v: number) => height - 4 - (v / max) * (height - 12);
  const line = (pick: (s: RateSample) => number) => samples.map((s, i) => `${x(i).toFixed(1)},${y(pick(s)).toFixed(1)}`).join(" ");
  const area = (pick: (s: RateSample) => number) => (samples.length < 2 ? "" : `${x(0).toFixed(1)},${height} ${line(pick)} ${width},${height}`);
  return (
    <div className="card">
      <h3>Events per second <span className="muted">last {Math.max(1, Math.round(((span + 1) * POLL_MS) / 60000))} min · peak {fmt(max)}</span></h3>
      <svg id="rate-chart" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label="events per second">
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} x1="0" x2={width} y1={height * f} y2={height * f} className="grid" />
        ))}
        <polygon points={area((s) => s.delivered)} className="area delivered" />
        <polyline points={line((s) => s.delivered)} className="line delivered" />
        <polygon points={area((s) => s.published)} className="area published" />
        <polyline points={line((s) => s.published)} className="line published" />
      </svg>
      <div className="legend"><span className="dot published" />published <span className="dot delivered" />delivered</div>
    </div>
  );
}

export function Transports({ status, latest }: { status: Status | undefined; latest: RateSample | undefined }) {
  const names: Transport[] = ["websocket", "sse", "polling"];
  return (
    <div className="card">
      <h3>Transports</h3>
      <table className="figures">
        <thead><tr><th /><th>connections</th><th>delivered/s</th><th>delivered</th></tr></thead>
        <tbody>
          {names.map((name) => (
            <tr key={name}>
              <td>{name}</td>
              <td>{fmt(status?.transports?.[name].connections)}</td>
              <td>{fmt(latest?.byTransport[name])}</td>
              <td>{fmt(status?.transports?.[name].delivered)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Health({ status }: { status: Status | undefined }) {
  const errors = Object.entries(status?.errors ?? {}).sort((a, b) => b[1] - a[1]);
  const integrations = Object.entries(status?.integrations ?? {});
  return (
    <div className="card">
      <h3>Health</h3>
      <div className="kv"><span>engine</span><span className={status?.engine?.available === false ? "bad" : "good"}>{status?.engine ? `${status.engine.name} · ${status.engine.available ? "available" : "unavailable"}` : "–"}</span></div>
      <div className="kv"><span>slow-consumer disconnects</span><span className={(status?.slowConsumerDisconnects ?? 0) > 0 ? "warn" : ""}>{fmt(status?.slowConsumerDisconnects)}</span></div>
      {status?.cluster && <Group title="Cluster (nodes on the engine)" group={status.cluster} />}
      {status?.workers && <Group title="Workers of this node" group={status.workers} />}
      <h4>Errors by code</h4>
      {errors.length === 0 ? <div className="muted">none</div> : errors.slice(0, 8).map(([code, count]) => (
        <div key={code} className="kv"><span className="code">{code}</span><span className="warn">{count}</span></div>
      ))}
      <h4>Integrations</h4>
      {integrations.length === 0 ? <div className="muted">none configured</div> : integrations.map(([name, state]) => (
        <div key={name} className="kv"><span>{name}</span><span className="code">{summarise(state)}</span></div>
      ))}
    </div>
  );
}

/** The figures above are this node's own; these are the totals of all of them, and each one's share. */
function Group({ title, group }: { title: string; group: GroupFigures }) {
  const { totals } = group;
  return (
    <div className="group-figures">
      <h4>{title}</h4>
      <div className="kv"><span>{group.count} answering{group.missing > 0 ? `, ${group.missing} not` : ""}</span><span>{fmt(totals.connections)} connections · {fmt(totals.users)} users · {fmt(totals.channels)} channels</span></div>
      {[...group.nodes].sort((a, b) => a.node.localeCompare(b.node)).map((node) => (
        <div key={node.node} className="kv"><span className="code">{node.node}</span><span>{fmt(node.connections)} connections</span></div>
      ))}
    </div>
  );
}

function summarise(state: unknown): string {
  if (state === null || state === undefined || (Array.isArray(state) && state.length === 0)) return "not configured";
  if (state && typeof state === "object" && "state" in state) return String((state as { state: unknown }).state);
  if (state && typeof state === "object" && "store" in state) return sinkSummary(state as SinkState);
  const text = JSON.stringify(state) ?? "";
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

interface SinkState {
  store: string;
  queued?: number | null;
  sent?: number;
  endpoints?: Array<{ delivered: number; queued: number | null }>;
  deadLetters?: unknown[];
}

/** A sink in one line: where its deliveries wait, how many went out and wait, and its dead letters. */
function sinkSummary(sink: SinkState): string {
  const sent = sink.sent ?? sink.endpoints?.reduce((sum, endpoint) => sum + endpoint.delivered, 0) ?? 0;
  const queued = sink.queued ?? sink.endpoints?.reduce<number | null>((sum, endpoint) => (sum === null || endpoint.queued === null ? null : sum + endpoint.queued), 0);
  return `${sink.store} · ${sent} sent · ${queued ?? "?"} queued · ${sink.deadLetters?.length ?? 0} dead`;
}
