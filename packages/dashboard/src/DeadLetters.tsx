/**
 * The sinks' dead letters (webhook deliveries, emails and the Pusher apps' webhook POSTs that used
 * their tries), from /api/status,
 * each with a button that queues it again with fresh tries (POST /api/admin/dead-letters/retry,
 * with the admin cookie), and one that retries them all. With Redis or PostgreSQL holding the
 * queue, every node lists and retries the same dead letters.
 */

import { useState } from "react";
import type { Status } from "./status";

interface WebhookLetter { url: string; id: string; kind: string; channel: string; attempts: number; error: string; at: string }
interface EmailLetter { id: string; channel: string; type: string; subject: string; attempts: number; error: string; at: string }
interface PusherLetter extends WebhookLetter { app: string }
type Sink = "webhooks" | "email" | "pusher";
type Filter = { sink?: Sink; url?: string; id?: string };

const BADGES: Record<Sink, string> = { webhooks: "webhook", email: "email", pusher: "pusher webhook" };

interface Row {
  key: string;
  sink: Sink;
  id: string;
  what: string;
  channel: string;
  target: string;
  attempts: number;
  error: string;
  at: string;
  filter: Filter;
}

function rowsOf(status: Status | undefined): Row[] {
  const integrations = status?.integrations ?? {};
  const hooks = (integrations.webhooks as { deadLetters?: WebhookLetter[] } | null)?.deadLetters ?? [];
  const mails = (integrations.email as { deadLetters?: EmailLetter[] } | null)?.deadLetters ?? [];
  const posts = (integrations.pusherWebhooks as { deadLetters?: PusherLetter[] } | null)?.deadLetters ?? [];
  const rows: Row[] = [
    ...hooks.map((l) => ({ key: `webhooks ${l.url} ${l.id}`, sink: "webhooks" as const, id: l.id, what: l.kind, channel: l.channel, target: l.url, attempts: l.attempts, error: l.error, at: l.at, filter: { sink: "webhooks" as const, url: l.url, id: l.id } })),
    ...mails.map((l) => ({ key: `email ${l.id}`, sink: "email" as const, id: l.id, what: l.type, channel: l.channel, target: l.subject, attempts: l.attempts, error: l.error, at: l.at, filter: { sink: "email" as const, id: l.id } })),
    ...posts.map((l) => ({ key: `pusher ${l.url} ${l.id}`, sink: "pusher" as const, id: l.id, what: l.kind, channel: l.channel, target: `${l.app} → ${l.url}`, attempts: l.attempts, error: l.error, at: l.at, filter: { sink: "pusher" as const, url: l.url, id: l.id } })),
  ];
  return rows.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

async function retry(filter: Filter): Promise<number> {
  const response = await fetch("/api/admin/dead-letters/retry", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(filter) });
  const body = (await response.json()) as { retried?: number; error?: { code: string; message: string } };
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`);
  return body.retried ?? 0;
}

export function DeadLetters({ status, refresh }: { status: Status | undefined; refresh: () => void }) {
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rows = rowsOf(status);
  const run = async (filter: Filter) => {
    setBusy(true);
    try {
      const retried = await retry(filter);
      setResult({ ok: true, text: `${retried} queued again` });
    } catch (error) {
      setResult({ ok: false, text: (error as Error).message });
    } finally {
      setBusy(false);
      refresh();
    }
  };
  return (
    <div className="card dead-letters" id="dead-letters">
      <h3>Dead letters <span className="muted">{rows.length}</span>
        <span className="spacer" />
        {rows.length > 1 && <button id="retry-all" disabled={busy} onClick={() => void run({})}>Retry all</button>}
      </h3>
      {rows.length === 0 ? <div className="muted">none: every email and webhook (Pusher's too) was delivered or is still being tried</div> : (
        <ul>
          {rows.map((row) => (
            <li key={row.key} className="dead-letter" data-sink={row.sink} data-id={row.id}>
              <div className="dead-letter-head">
                <span className="badge">{BADGES[row.sink]}</span>
                <span className="code">{row.what}</span>
                <span className="event-channel code">{row.channel}</span>
                <span className="spacer" />
                <button className="retry" disabled={busy} onClick={() => void run(row.filter)}>Retry</button>
              </div>
              <div className="muted small dead-letter-target" title={row.target}>{row.target}</div>
              <div className="small"><span className="bad dead-letter-error">{row.error}</span> <span className="muted">after {row.attempts} {row.attempts === 1 ? "try" : "tries"} · {new Date(row.at).toLocaleTimeString()}</span></div>
            </li>
          ))}
        </ul>
      )}
      {result && <div id="dead-letters-result" className={`small ${result.ok ? "good" : "bad"}`}>{result.text}</div>}
    </div>
  );
}
