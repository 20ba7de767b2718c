/**
 * `npm run screenshot:dashboard`: builds the page, starts a Herald with WebSocket and SSE
 * subscribers, publishes a varied stream of events (a few hundred a second, in waves) and saves
 * a screenshot of the dashboard under that load to docs/dashboard.png.
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { createHerald } from "@herald/server";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const seconds = Number(process.env.SCREENSHOT_SECONDS ?? 36);
const out = fileURLToPath(new URL("../../../docs/dashboard.png", import.meta.url));
const dashboardRoot = fileURLToPath(new URL("..", import.meta.url));

const { build } = await import("vite");
await build({ root: dashboardRoot, configFile: join(dashboardRoot, "vite.config.ts"), logLevel: "warn" });
process.env.HERALD_DASHBOARD_DIR = join(dashboardRoot, "dist");

const herald = await createHerald({ config: { logLevel: "silent", namespaces: { presence: { presence: true } } } });
await herald.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${herald.port}`;

const wallet = "user:0x52908400098527886E0F7030069857D2E4169EE7";
const channels = [wallet, "bets", "analytics:corridors", "orders:eu", "orders:us", "vault:7Hq3Xb", "presence:lobby"];
const sockets: WebSocket[] = [];
for (let i = 0; i < 24; i++) {
  const socket = new WebSocket(`${base.replace("http", "ws")}/ws`);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "subscribe", channel: channels[i % channels.length] }));
  sockets.push(socket);
}
const sse = new AbortController();
for (let i = 0; i < 6; i++) void fetch(`${base}/sse?channel=bets&channel=orders:eu`, { signal: sse.signal }).then((r) => r.body?.pipeTo(new WritableStream())).catch(() => undefined);

const kinds: Array<[string, string, () => unknown]> = [
  [wallet, "balance_update", () => ({ available: +(Math.random() * 5000).toFixed(2), locked: +(Math.random() * 900).toFixed(2), currency: "CAS" })],
  [wallet, "transaction_confirmed", () => ({ tx: `0x${Math.random().toString(16).slice(2, 14)}`, confirmations: 12 })],
  ["bets", "bet_resolved", () => ({ betId: Math.floor(Math.random() * 1e6), outcome: Math.random() < 0.5 ? "won" : "lost", payout: +(Math.random() * 300).toFixed(2) })],
  ["bets", "bet_placed", () => ({ betId: Math.floor(Math.random() * 1e6), market: "EUR/USD > 1.09", stake: 25 })],
  ["analytics:corridors", "corridor_update", () => ({ corridor: "USD→MXN", volume24h: Math.floor(Math.random() * 1e7), anchors: 4 })],
  ["analytics:corridors", "snapshot_update", () => ({ corridors: 128, anchors: 37, updatedBy: "ingest-2" })],
  ["orders:eu", "order_filled", () => ({ orderId: `EU-${Math.floor(Math.random() * 99999)}`, symbol: "BTC-EUR", qty: +(Math.random() * 2).toFixed(4), price: 61250.5 })],
  ["orders:us", "position_update", () => ({ symbol: "ETH-USD", size: +(Math.random() * 40).toFixed(2), pnl: +(Math.random() * 2000 - 1000).toFixed(2) })],
  ["vault:7Hq3Xb", "collateral_locked", () => ({ amount: +(Math.random() * 10).toFixed(3), asset: "SOL" })],
  ["vault:7Hq3Xb", "collateral_unlocked", () => ({ amount: +(Math.random() * 10).toFixed(3), asset: "SOL" })],
  ["orders:eu", "payment_failed", () => ({ orderId: `EU-${Math.floor(Math.random() * 99999)}`, reason: "card_declined" })],
];

const { chromium } = await import("playwright-core");
const profile = await mkdtemp(join(tmpdir(), "herald-screenshot-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1440, height: 900 },
  deviceScaleFactor: 1,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
// The URL the start-up banner prints: it sets the admin cookie and redirects to /dashboard/.
await page.goto(`${base}/dashboard?token=${herald.adminToken}`);
await page.waitForFunction(() => document.getElementById("feed-state")?.textContent === "live");

// A few bad requests, so "errors by code" has something to show.
for (const body of ['{"channel":"bad channel!","type":"x","data":1}', '{"channel":"bets","type":"subscribed","data":1}', "{oops"]) {
  await fetch(`${base}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body });
}

// Waves between about 80 and 400 events a second, so the chart has a shape.
const started = Date.now();
let published = 0;
while (Date.now() - started < seconds * 1000) {
  const t = (Date.now() - started) / 1000;
  const rate = 240 + 160 * Math.sin(t / 2.2);
  const batch = Math.max(1, Math.round(rate / 20));
  for (let i = 0; i < batch; i++) {
    const [channel, type, data] = kinds[Math.random() < 0.03 ? kinds.length - 1 : Math.floor(Math.random() * (kinds.length - 1))]!;
    await herald.publish(channel, type, data());
    published++;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
await page.locator(".event-row").nth(2).click();
await page.waitForTimeout(300);
await page.screenshot({ path: out });
console.log(`published ${published} events in ${seconds} s; saved ${out}`);

await browser.close();
await rm(profile, { recursive: true, force: true });
sse.abort();
for (const socket of sockets) socket.close();
await herald.close();
