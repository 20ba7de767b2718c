/**
 * The page the browser tests drive: the SDK and the React hooks, as an application would use
 * them. It shows what a user would see (connection state, transport, newest balance) and lists
 * every `tick` offset it received, so the test can check that none was lost or doubled.
 */

import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { Herald } from "@herald/client";
import { HeraldProvider, useChannelState, useConnectionState, useEvent, useLatest, useSubscription } from "@herald/react";

const params = new URLSearchParams(location.search);
const channel = params.get("channel") ?? "user:web";
/** `?state=1`: the page keeps a list with useChannelState, loaded from the app's backend (the test exposes it as `loadState`). */
const withState = params.get("state") === "1";

declare global {
  interface Window {
    loadState(): Promise<{ state: number[]; position: { epoch: string; offset: number } }>;
  }
}
// `?minDelay=…` (ms): a backoff floor long enough that only an immediate retry can reconnect in time.
const minDelay = Number(params.get("minDelay") ?? 100);
const herald = new Herald({ url: location.origin, reconnect: { minDelay, maxDelay: Math.max(400, minDelay) } });

function Connection() {
  const { newState, reason, transport, attempt } = useConnectionState();
  return (
    <p>
      <span id="state">{newState}</span> over <span id="transport">{transport}</span> (attempt <span id="attempt">{attempt}</span>, <span id="reason">{reason}</span>)
    </p>
  );
}

function Balance({ id }: { id: string }) {
  const balance = useLatest<{ availableBalance: number }>(channel, "balance_update");
  return <p id={id}>{balance === undefined ? "none" : String(balance.availableBalance)}</p>;
}

function Ticks() {
  const [offsets, setOffsets] = useState<number[]>([]);
  const [recoveryFailures, setRecoveryFailures] = useState(0);
  const { status } = useSubscription(channel);
  useEvent<{ n: number }>(channel, "tick", (_data, frame) => setOffsets((list) => [...list, frame.offset]));
  useEvent(channel, "recovery_failed", () => setRecoveryFailures((n) => n + 1));
  return (
    <>
      <p id="subscription">{status}</p>
      <p id="offsets">{offsets.join(",")}</p>
      <p id="recovery-failed">{recoveryFailures}</p>
    </>
  );
}

function Items() {
  const items = useChannelState<number[]>(channel, {
    getState: () => window.loadState(),
    reduce: (list, event) => [...list, (event.data as { n: number }).n],
  });
  return <p id="items">{items === undefined ? "loading" : items.join(",")}</p>;
}

createRoot(document.getElementById("root")!).render(
  withState ? (
    <StrictMode>
      <HeraldProvider client={herald}>
        <Connection />
        <Items />
      </HeraldProvider>
    </StrictMode>
  ) : (
  <StrictMode>
    <HeraldProvider client={herald}>
      <Connection />
      <Balance id="balance" />
      <Ticks />
      {/* A second reader of the same channel: still one server subscription. */}
      <Balance id="balance-again" />
    </HeraldProvider>
  </StrictMode>
  ),
);
