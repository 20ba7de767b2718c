import { BridgeRealtimeClient, BridgeUIUpdater } from "/realtime.js";

const $ = (id) => document.getElementById(id);
const ui = new BridgeUIUpdater($("connection"));
let deposit;
let realtime;

function render(row) {
  if (deposit && row.id !== deposit.id) return; // another request of the same user
  deposit = row;
  $("deposit").hidden = false;
  $("deposit-address").textContent = row.deposit_address;
  $("deposit-amount").textContent = `${row.amount} CAS`;
  $("amount-received").textContent = row.amount_received ?? "–";
  $("mint-tx").textContent = row.mint_tx_hash ?? "–";
  BridgeUIUpdater.showStatus($("deposit-status"), row.status);
}

$("request").addEventListener("submit", async (event) => {
  event.preventDefault();
  const address = $("polygon-address").value.trim();
  $("form-error").hidden = true;
  // Real-time updates start at once, with the user's Polygon address (Herald checks it too).
  realtime?.stop();
  realtime = new BridgeRealtimeClient({
    address,
    onConnection: (state) => ui.showConnection(state),
    onUpdate: (type, data) => { if (type === "cas_deposit_update") render(data.row); },
    onReconnected: async () => { if (deposit) render(await (await fetch(`/api/cas-deposits/${deposit.id}`)).json()); },
  });
  void realtime.start();
  const response = await fetch("/api/cas-deposits", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ polygon_address: address, amount: Number($("amount").value) }),
  });
  const body = await response.json();
  if (!response.ok) {
    $("form-error").textContent = body.message;
    $("form-error").hidden = false;
    return;
  }
  deposit = undefined;
  render(body);
});
