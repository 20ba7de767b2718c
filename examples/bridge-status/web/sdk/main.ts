/**
 * The CAS → Polygon page again, on @herald/client instead of the seed's realtime.js: the SDK
 * connects to the same route (/api/ws/{address}), takes over the route's subscription to
 * user:{address}, reconnects with backoff and resumes with `since`, so each update is applied once.
 * When Herald lost the events in between (a restart of the memory engine), `recovery_failed` says
 * so and the page reloads its row from the API, as the seed's page does after every reconnect.
 */

import { Herald, type ConnectionState } from "@herald/client";
import { BridgeUIUpdater } from "../realtime.js";

interface DepositRow {
  id: number;
  deposit_address: string;
  amount: number;
  amount_received: number | null;
  mint_tx_hash: string | null;
  status: string;
}

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const ui = new BridgeUIUpdater($("connection"));
let deposit: DepositRow | undefined;
let herald: Herald | undefined;
let updates = 0;

const CONNECTION_TEXT: Partial<Record<ConnectionState, string>> = {
  connecting: "Connecting...",
  connected: "Real-time updates active",
  disconnected: "Real-time updates disconnected",
};

function render(row: DepositRow): void {
  if (deposit && row.id !== deposit.id) return; // another request of the same user
  deposit = row;
  $("deposit").hidden = false;
  $("deposit-address").textContent = row.deposit_address;
  $("deposit-amount").textContent = `${row.amount} CAS`;
  $("amount-received").textContent = row.amount_received === null ? "–" : String(row.amount_received);
  $("mint-tx").textContent = row.mint_tx_hash ?? "–";
  BridgeUIUpdater.showStatus($("deposit-status"), row.status);
}

async function follow(address: string): Promise<void> {
  herald?.disconnect();
  const config = (await (await fetch("/config.json")).json()) as { heraldPort: number };
  const client = new Herald({ url: `${location.protocol}//${location.hostname}:${config.heraldPort}`, wsPath: `/api/ws/${encodeURIComponent(address)}`, transports: ["websocket"] });
  herald = client;
  client.on("state", ({ newState, attempt }) => {
    const text = newState === "reconnecting" ? `Reconnecting... (attempt ${attempt ?? 1})` : CONNECTION_TEXT[newState];
    if (text) ui.showConnection({ state: newState, text });
  });
  client.on("error", ({ message }) => ui.showConnection({ state: "failed", text: message }));
  const subscription = client.subscribe<{ cas_deposit_update: { row: DepositRow } }>(`user:${address}`);
  subscription.on("cas_deposit_update", ({ row }) => {
    updates += 1;
    $("updates").textContent = String(updates);
    render(row);
  });
  subscription.on("recovery_failed", async () => {
    if (deposit) render((await (await fetch(`/api/cas-deposits/${deposit.id}`)).json()) as DepositRow);
  });
  client.connect();
}

$("request").addEventListener("submit", async (event) => {
  event.preventDefault();
  const address = ($("polygon-address") as HTMLInputElement).value.trim();
  $("form-error").hidden = true;
  void follow(address);
  const response = await fetch("/api/cas-deposits", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ polygon_address: address, amount: Number(($("amount") as HTMLInputElement).value) }),
  });
  const body = (await response.json()) as DepositRow & { message?: string };
  if (!response.ok) {
    $("form-error").textContent = body.message ?? "request failed";
    $("form-error").hidden = false;
    herald?.disconnect();
    return;
  }
  deposit = undefined;
  render(body);
});
