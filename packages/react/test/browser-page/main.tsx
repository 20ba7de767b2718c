/**
 * The page the browser tests drive: the SDK and the React hooks, as an application would use
 * them. It shows what a user would see (connection state, transport, newest balance) and lists
 * every `tick` offset it received, so the test can check that none was lost or doubled.
 */

import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { Herald } from "@herald/client";
import { HeraldProvider, useConnectionState, useEvent, useLatest, useSubscription } from "@herald/react";

const channel = new URLSearchParams(location.search).get("channel") ?? "user:web";
const herald = new Herald({ url: location.origin, reconnect: { minDelay: 100, maxDelay: 400 } });

function Connection() {
  const { newState, transport, attempt } = useConnectionState();
  return (
    <p>
      <span id="state">{newState}</span> over <span id="transport">{transport}</span> (attempt <span id="attempt">{attempt}</span>)
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

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <HeraldProvider client={herald}>
      <Connection />
      <Balance id="balance" />
      <Ticks />
      {/* A second reader of the same channel: still one server subscription. */}
      <Balance id="balance-again" />
    </HeraldProvider>
  </StrictMode>,
);
