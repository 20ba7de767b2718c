/**
 * Channels this node holds (GET /api/admin/channels), the selected one's users on every node
 * (with a button that disconnects one, see ChannelUsers), presence and recent history, and a form
 * that publishes through POST /api/publish (loopback, or an API key given here and kept for this
 * tab only). The JSON data is parsed before anything is sent.
 */

import { useEffect, useState, type FormEvent } from "react";
import type { FeedEvent } from "./feed-event";
import { colourOf } from "./event-colour";
import { getJson, postJson } from "./api";
import { ChannelUsers } from "./ChannelUsers";

interface ChannelRow { channel: string; subscribers: number }

export function Channels() {
  const [channels, setChannels] = useState<ChannelRow[]>([]);
  const [selected, setSelected] = useState("");
  useEffect(() => {
    let live = true;
    const load = () => getJson<{ channels: ChannelRow[] }>("/api/admin/channels").then((body) => live && setChannels(body.channels), () => undefined);
    load();
    const timer = setInterval(load, 3000);
    return () => { live = false; clearInterval(timer); };
  }, []);
  return (
    <section className="channels">
      <div className="channel-list card">
        <h3>Active channels <span className="muted">{channels.length}</span></h3>
        {channels.length === 0 && <div className="muted">No channel has a subscriber on this node.</div>}
        <ul id="channel-list">
          {channels.map((row) => (
            <li key={row.channel} className={row.channel === selected ? "selected" : ""} onClick={() => setSelected(row.channel)}>
              <span className="event-channel">{row.channel}</span>
              <span className="badge">{row.subscribers}</span>
            </li>
          ))}
        </ul>
      </div>
      <div className="channel-side">
        <PublishForm channel={selected} />
        {selected && <ChannelDetail channel={selected} />}
      </div>
    </section>
  );
}

function ChannelDetail({ channel }: { channel: string }) {
  const [history, setHistory] = useState<{ events: FeedEvent[]; offset: number; epoch: string } | string>("loading…");
  const [presence, setPresence] = useState<{ count: number; users: number; clients: Array<{ connectionId: string; user?: string }> } | string>("loading…");
  useEffect(() => {
    const q = encodeURIComponent(channel);
    getJson<{ events: FeedEvent[]; offset: number; epoch: string }>(`/api/history?channel=${q}&limit=20`).then(setHistory, (e: Error) => setHistory(e.message));
    getJson<{ count: number; users: number; clients: Array<{ connectionId: string; user?: string }> }>(`/api/presence?channel=${q}`).then(setPresence, (e: Error) => setPresence(e.message));
  }, [channel]);
  return (
    <div className="card">
      <h3>{channel}</h3>
      <h4>Users</h4>
      <ChannelUsers channel={channel} />
      <h4>Presence</h4>
      {typeof presence === "string" ? <div className="muted">{presence}</div> : (
        <div>
          <div className="kv"><span>clients</span><span>{presence.count}</span></div>
          <div className="kv"><span>users</span><span>{presence.users}</span></div>
          {presence.clients.slice(0, 10).map((c) => <div key={c.connectionId} className="code muted">{c.user ?? "anonymous"} · {c.connectionId.slice(0, 8)}</div>)}
        </div>
      )}
      <h4>Recent history {typeof history !== "string" && <span className="muted">offset {history.offset} · epoch {history.epoch.slice(0, 8)}</span>}</h4>
      {typeof history === "string" ? <div className="muted">{history}</div> : history.events.length === 0 ? <div className="muted">no retained events</div> : (
        <ul className="history">
          {[...history.events].reverse().map((e) => (
            <li key={e.offset}>
              <span className="event-offset">#{e.offset}</span>
              <span className="event-type" style={{ color: colourOf(e.type), borderColor: colourOf(e.type) }}>{e.type}</span>
              <span className="event-data">{JSON.stringify(e.data)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function PublishForm({ channel: suggested }: { channel: string }) {
  const [channel, setChannel] = useState("");
  const [type, setType] = useState("");
  const [data, setData] = useState("{}");
  const [apiKey, setApiKey] = useState(() => sessionStorage.getItem("herald.apiKey") ?? "");
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  useEffect(() => { if (suggested) setChannel(suggested); }, [suggested]);

  let dataProblem: string | undefined;
  try {
    JSON.parse(data);
  } catch (error) {
    dataProblem = (error as Error).message;
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (dataProblem) return setResult({ ok: false, text: `data is not valid JSON: ${dataProblem}` });
    if (!channel.trim() || !type.trim()) return setResult({ ok: false, text: "give a channel and an event type" });
    sessionStorage.setItem("herald.apiKey", apiKey);
    try {
      const body = await postJson<{ published: Array<{ offset: number }> }>(
        "/api/publish",
        { channel: channel.trim(), type: type.trim(), data: JSON.parse(data) as unknown },
        apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      );
      setResult({ ok: true, text: `published at offset ${body.published[0]?.offset}` });
    } catch (error) {
      setResult({ ok: false, text: (error as Error).message });
    }
  };

  return (
    <form id="publish-form" className="card publish" onSubmit={submit}>
      <h3>Publish</h3>
      <label>channel<input id="publish-channel" value={channel} onChange={(e) => setChannel(e.target.value)} placeholder="user:42" /></label>
      <label>type<input id="publish-type" value={type} onChange={(e) => setType(e.target.value)} placeholder="balance_update" /></label>
      <label>data (JSON)<textarea id="publish-data" rows={4} value={data} onChange={(e) => setData(e.target.value)} className={dataProblem ? "invalid" : ""} /></label>
      {dataProblem && <div id="publish-data-problem" className="bad small">{dataProblem}</div>}
      <label>API key <span className="muted">(not needed on loopback)</span><input id="publish-key" type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} /></label>
      <div className="row">
        <button id="publish-send" className="primary" type="submit" disabled={dataProblem !== undefined}>Publish</button>
        {result && <span id="publish-result" className={result.ok ? "good" : "bad"}>{result.text}</span>}
      </div>
    </form>
  );
}
