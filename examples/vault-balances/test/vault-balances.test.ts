/**
 * End to end, as a user would: the vault dashboard open in two tabs of real Chromium (one on
 * Herald's React bindings, one with the seed's own bare-WebSocket component on /ws/<pubkey>).
 * A deposit made in one tab shows the new balance in both; locking collateral shows the locked
 * and available amounts in both.
 *
 * Chromium: see examples/shared/browser-test.ts. SCREENSHOTS=1 also saves the README's screenshots.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildPage } from "../../shared/build-page.js";
import { browserTestSkip, launchChromium, untilSubscriptions, waitForText, type Chromium } from "../../shared/browser-test.js";
import { runReadmeSteps } from "../../shared/readme-steps.js";
import { startVaultExample, type VaultExample } from "../src/app.js";
import { deskOf } from "../src/operator-feed.js";

const skip = browserTestSkip("vault-balances");

const owner = "HjxQC5jmM8JQrKmVLz29fvaVU428BQ3NzM7a3uQECt9m";
const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

describe("example: vault balances", { skip }, () => {
  let pageDir = "";
  let chromium: Chromium;
  let example: VaultExample;

  before(async () => {
    pageDir = await buildPage(fileURLToPath(new URL("../web", import.meta.url)));
    example = await startVaultExample({ port: 0, host: "127.0.0.1", pageDir, logLevel: "silent" });
    chromium = await launchChromium({ width: 820, height: 480 });
  });

  after(async () => {
    await chromium?.close();
    await example?.close();
    await rm(pageDir, { recursive: true, force: true });
  });

  it("updates both tabs on a deposit, then on locking collateral", async () => {
    const sdkTab = await chromium.browser.newPage();
    const seedTab = await chromium.browser.newPage();
    try {
      await sdkTab.goto(`${example.url}/?owner=${owner}`);
      await seedTab.goto(`${example.url}/?owner=${owner}&client=seed`);
      await waitForText(sdkTab, "connection", "live");
      await waitForText(seedTab, "connection", "connected");
      // Both tabs hold their subscription once Herald counts two (the seed tab has no other signal).
      await untilSubscriptions(example.url, 2);
      await waitForText(sdkTab, "total", "0.00 USDT");

      // Deposit 100 USDT from the first tab: both show the new balance.
      await sdkTab.fill("#amount", "100");
      await sdkTab.click("#deposit");
      for (const tab of [sdkTab, seedTab]) {
        await waitForText(tab, "total", "100.00 USDT");
        await waitForText(tab, "available", "100.00 USDT");
      }
      await waitForText(seedTab, "notifications", "deposit confirmed!");
      await waitForText(sdkTab, "notifications", "deposit of 100.00 USDT confirmed!");

      // Lock 40 USDT for a position from the other tab: both show locked and available.
      await seedTab.fill("#amount", "40");
      await seedTab.fill("#position", "pos_12345");
      await seedTab.click("#lock");
      for (const tab of [sdkTab, seedTab]) {
        await waitForText(tab, "locked", "40.00 USDT");
        await waitForText(tab, "available", "60.00 USDT");
        await waitForText(tab, "total", "100.00 USDT");
      }
      await waitForText(sdkTab, "positions", "pos_12345: 40.00 USDT locked, active");

      // Locking more than is available is refused, and the page says why.
      await seedTab.fill("#amount", "500");
      await seedTab.fill("#position", "pos_99");
      await seedTab.click("#lock");
      await waitForText(seedTab, "error", "cannot lock 500000000: only 60000000 is available");

      if (process.env.SCREENSHOTS === "1") {
        await sdkTab.screenshot({ path: fileURLToPath(new URL("../screenshot.png", import.meta.url)), fullPage: true });
        await seedTab.screenshot({ path: fileURLToPath(new URL("../screenshot-seed-client.png", import.meta.url)), fullPage: true });
      }
    } finally {
      await sdkTab.close();
      await seedTab.close();
    }
  });

  it("the operator page follows every vault of its desk with one pattern, a tag filter and deltas; the other desk's vaults never reach it", async () => {
    // Two vaults, one per desk (keys that differ in their last character).
    const keys = [...BASE58].map((last) => owner.slice(0, -1) + last);
    const north = keys.find((key) => deskOf(key) === "north")!;
    const south = keys.find((key) => deskOf(key) === "south")!;
    const operator = await chromium.browser.newPage();
    const frames: string[] = [];
    const errors: string[] = [];
    operator.on("pageerror", (error) => errors.push(error.message));
    operator.on("websocket", (socket) => socket.on("framereceived", (frame) => frames.push(String(frame.payload))));
    const post = async (operation: string, body: Record<string, unknown>): Promise<void> => {
      const response = await fetch(`${example.url}/vault/${operation}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(response.status, 200, await response.text());
    };
    try {
      await operator.goto(`${example.url}/?view=operator&desk=north`);
      await waitForText(operator, "operator-status", "live");
      await post("deposit", { owner: south, amount: 77_000_000 });
      await post("deposit", { owner: north, amount: 100_000_000 });
      await post("deposit", { owner: north, amount: 50_000_000 });
      await post("lock", { owner: north, amount: 30_000_000, positionId: "pos_1" });
      await post("deposit", { owner: north, amount: 20_000_000 });
      await post("deposit", { owner: south, amount: 1_000_000 });
      await waitForText(operator, `vault-${north}`, `${north.slice(0, 8)}…: 170.00 USDT total, 30.00 USDT locked in 1 position; last: deposit 20.00 USDT`);
      // Published after the south vault's last change: once the north row shows it, nothing of the south vault is still coming.
      await post("withdraw", { owner: north, amount: 10_000_000 });
      await waitForText(operator, `vault-${north}`, `${north.slice(0, 8)}…: 160.00 USDT total, 30.00 USDT locked in 1 position; last: withdraw 10.00 USDT`);
      assert.equal(await operator.evaluate((id) => document.getElementById(id) === null, `vault-${south}`), true, "the south desk's vault is not on the page");
      const snapshots = frames.filter((text) => text.includes('"vault_snapshot"'));
      assert.equal(snapshots.some((text) => text.includes(south)), false, "no frame of the south vault reached the page");
      assert.equal(snapshots.length, 5, "one frame per change of the north vault");
      assert.deepEqual(errors, [], "the page raised no error");
      assert.ok(snapshots.filter((text) => text.includes('"delta":true')).length >= 2, `snapshots after the channel's first came as deltas: ${snapshots.join("\n")}`);
    } finally {
      await operator.close();
    }
  });

  it("runs the README's steps as written", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), { "127.0.0.1:8080": new URL(example.url).host });
    assert.match(output, /^\{"event":"transaction_confirmed","channel":"vault:HjxQ/m);
    assert.match(output, /^\{"event":"balance_update","channel":"vault:HjxQ/m);
    assert.match(output, /^\{"type":"error","code":"invalid_param","message":"Invalid public key"\}$/m);
  });
});
