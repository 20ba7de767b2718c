import { BridgeRealtimeClient, BridgeUIUpdater } from "/realtime.js";

const $ = (id) => document.getElementById(id);
const ui = new BridgeUIUpdater($("connection"));
let intention;
let realtime;
const transactions = new Map();

function renderIntention(row) {
  if (intention && row.id !== intention.id) return;
  intention = { ...intention, ...row };
  $("intention").hidden = false;
  $("bridge-contract").textContent = intention.bridge_contract ?? "";
  $("intention-amount").textContent = `${row.amount} wCAS`;
  $("cas-tx").textContent = row.cas_tx_hash ?? "–";
  BridgeUIUpdater.showStatus($("intention-status"), row.status);
}

function renderTransaction(row) {
  transactions.set(row.id, row);
  $("transactions").hidden = false;
  const list = $("transaction-list");
  list.replaceChildren();
  for (const tx of transactions.values()) {
    const term = document.createElement("dt");
    term.textContent = tx.tx_hash.slice(0, 14) + "…";
    const badge = document.createElement("span");
    badge.id = `transaction-${tx.id}`;
    BridgeUIUpdater.showStatus(badge, tx.status);
    const detail = document.createElement("dd");
    detail.append(badge);
    list.append(term, detail);
  }
}

$("request").addEventListener("submit", async (event) => {
  event.preventDefault();
  const address = $("polygon-address").value.trim();
  $("form-error").hidden = true;
  realtime?.stop();
  realtime = new BridgeRealtimeClient({
    address,
    onConnection: (state) => ui.showConnection(state),
    onUpdate: (type, data) => {
      if (type === "wcas_return_intention_update") renderIntention(data.row);
      if (type === "polygon_transaction_update") renderTransaction(data.row);
    },
    onReconnected: async () => {
      if (intention) renderIntention(await (await fetch(`/api/wcas-return-intentions/${intention.id}`)).json());
      for (const row of await (await fetch(`/api/users/${address}/polygon-transactions`)).json()) renderTransaction(row);
    },
  });
  void realtime.start();
  const response = await fetch("/api/wcas-return-intentions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ polygon_address: address, cas_address: $("cas-address").value.trim(), amount: Number($("amount").value) }),
  });
  const body = await response.json();
  if (!response.ok) {
    $("form-error").textContent = body.message;
    $("form-error").hidden = false;
    return;
  }
  intention = undefined;
  renderIntention(body);
});
