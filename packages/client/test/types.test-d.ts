/**
 * Type tests, checked by `tsc` (npm run typecheck), never run: a typed event map must give
 * handlers the right payload and reject a wrong field or an unknown event.
 */

import { Herald, type StateChange } from "../src/index.js";

type VaultEvents = {
  balance_update: { totalBalance: number; availableBalance: number; lockedBalance: number };
  transaction_confirmed: { transactionId: string; transactionType: "deposit" | "withdraw"; amount: number };
};

const herald = new Herald({ url: "http://localhost:8080" });
const vault = herald.subscribe<VaultEvents>("user:x");

vault.on("balance_update", (balance) => {
  const available: number = balance.availableBalance;
  // @ts-expect-error: no such field on balance_update
  void balance.available;
  return available;
});
vault.on("transaction_confirmed", (tx, frame) => {
  const kind: "deposit" | "withdraw" = tx.transactionType;
  const offset: number = frame.offset;
  // The event's trace id, only while the server traces.
  const traceId: string | undefined = frame.traceId;
  // @ts-expect-error: amount is a number
  const wrong: string = tx.amount;
  return [kind, offset, traceId, wrong];
});
// @ts-expect-error: not an event of this channel
vault.on("balance_updated", () => {});
vault.on("subscribed", (context) => {
  const recovered: boolean = context.recovered;
  return recovered;
});
vault.on("recovery_failed", (context) => context.since.offset);
const latest: VaultEvents["balance_update"] | undefined = vault.latest("balance_update");
void latest;

// Without a map, any event name goes and payloads are unknown.
herald.subscribe("bets").on("bet_resolved", (data) => {
  // @ts-expect-error: unknown until narrowed
  void data.betId;
});

herald.on("state", ({ newState, attempt, nextDelay, transport }: StateChange) => [newState, attempt, nextDelay, transport]);
// @ts-expect-error: no such connection state
if (herald.state === "open") herald.connect();
