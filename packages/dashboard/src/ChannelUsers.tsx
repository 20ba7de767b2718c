/**
 * The users subscribed to a channel on every node (GET /api/channels/<channel>, the server API),
 * each with a button that disconnects them everywhere (POST /api/disconnect). The page calls both
 * with the admin cookie. "Let them reconnect" sends `reconnect: true`: their clients come back at
 * once (after a rights change, say); without it they stop until the app connects them again.
 */

import { useCallback, useEffect, useState } from "react";
import { getJson, postJson } from "./api";

interface ChannelInfo { subscribers: number; users: number; userIds: string[]; nodes: number; unanswered: number }
interface Disconnected { connections: number; nodes: number; unanswered: number }

export function ChannelUsers({ channel }: { channel: string }) {
  const [info, setInfo] = useState<ChannelInfo | string>("loading…");
  const [reconnect, setReconnect] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const load = useCallback(() => {
    getJson<ChannelInfo>(`/api/channels/${encodeURIComponent(channel)}`).then(setInfo, (e: Error) => setInfo(e.message));
  }, [channel]);
  useEffect(() => {
    setResult(undefined);
    load();
  }, [load]);

  const disconnect = async (user: string) => {
    try {
      const done = await postJson<Disconnected>("/api/disconnect", { user, reconnect, reason: reconnect ? "reconnect, please" : "disconnected by an administrator" });
      const missing = done.unanswered > 0 ? `; ${done.unanswered} node(s) did not answer` : "";
      setResult({ ok: true, text: `${user}: ${done.connections} connection(s) closed on ${done.nodes} node(s)${missing}` });
    } catch (error) {
      setResult({ ok: false, text: (error as Error).message });
    }
    load();
  };

  if (typeof info === "string") return <div className="muted">{info}</div>;
  return (
    <div id="channel-users">
      <div className="kv"><span>subscribers, every node</span><span id="channel-subscribers">{info.subscribers}</span></div>
      <div className="kv"><span>users</span><span>{info.users}</span></div>
      {info.userIds.length === 0 && <div className="muted">no signed-in user holds this channel</div>}
      <ul className="users">
        {info.userIds.map((user) => (
          <li key={user}>
            <span className="code">{user}</span>
            <button className="disconnect-user" data-user={user} onClick={() => void disconnect(user)}>Disconnect</button>
          </li>
        ))}
      </ul>
      {info.users > info.userIds.length && <div className="muted small">and {info.users - info.userIds.length} more</div>}
      <label className="small muted"><input id="disconnect-reconnect" type="checkbox" checked={reconnect} onChange={(e) => setReconnect(e.target.checked)} /> let them reconnect</label>
      {result && <div id="disconnect-result" className={result.ok ? "good small" : "bad small"}>{result.text}</div>}
    </div>
  );
}
