/** Buttons that call the vault REST API, as the trading front end would. */

import { useState, type FormEvent } from "react";

export function Operations({ owner }: { owner: string }) {
  const [amount, setAmount] = useState("100");
  const [positionId, setPositionId] = useState("pos_12345");
  const [error, setError] = useState("");

  const run = (operation: "deposit" | "withdraw" | "lock" | "unlock") => async (event?: FormEvent) => {
    event?.preventDefault();
    const units = Math.round(Number(amount) * 1_000_000);
    const body = operation === "unlock" ? { owner, positionId } : operation === "lock" ? { owner, amount: units, positionId } : { owner, amount: units };
    const response = await fetch(`/vault/${operation}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    setError(response.ok ? "" : ((await response.json()) as { error: { message: string } }).error.message);
  };

  return (
    <section className="card">
      <form onSubmit={run("deposit")}>
        <label>
          Amount (USDT) <input id="amount" value={amount} onChange={(e) => setAmount(e.target.value)} inputMode="decimal" />
        </label>
        <label>
          Position <input id="position" value={positionId} onChange={(e) => setPositionId(e.target.value)} />
        </label>
        <button id="deposit" type="submit">Deposit</button>
        <button id="withdraw" type="button" onClick={run("withdraw")}>Withdraw</button>
        <button id="lock" type="button" className="secondary" onClick={run("lock")}>Lock</button>
        <button id="unlock" type="button" className="secondary" onClick={run("unlock")}>Unlock</button>
      </form>
      {error && <p className="error" id="error">{error}</p>}
    </section>
  );
}
