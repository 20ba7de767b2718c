/** Type tests for the hooks, checked by `tsc` (npm run typecheck), never run. */

import { Herald } from "@herald/client";
import { HeraldProvider, useConnectionState, useEvent, useLatest, useSubscription } from "../src/index.js";

type Balance = { totalBalance: number; availableBalance: number; lockedBalance: number };

function Panel({ owner }: { owner: string }) {
  const balance = useLatest<Balance>(`user:${owner}`, "balance_update");
  const { status, recovered } = useSubscription(`user:${owner}`);
  const { newState, attempt, nextDelay } = useConnectionState();
  useEvent<{ amount: number }>(`user:${owner}`, "transaction_confirmed", (tx, frame) => {
    const amount: number = tx.amount;
    // @ts-expect-error: no such field
    void tx.amont;
    // Set only while the server traces: a client-side error report names it.
    const traceId: string | undefined = frame.traceId;
    // @ts-expect-error: absent with tracing off
    const always: string = frame.traceId;
    return [amount, frame.offset, traceId, always];
  });
  // @ts-expect-error: may be undefined until the first event
  const total: number = balance.totalBalance;
  return (
    <p>
      {balance?.availableBalance} {total} {status} {String(recovered)} {newState} {attempt} {nextDelay}
    </p>
  );
}

export const app = (
  <HeraldProvider client={new Herald({ url: "http://localhost:8080" })}>
    <Panel owner="x" />
  </HeraldProvider>
);
