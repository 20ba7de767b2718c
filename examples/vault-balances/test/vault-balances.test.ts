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

const skip = browserTestSkip("vault-balances");

const owner = "HjxQC5jmM8JQrKmVLz29fvaVU428BQ3NzM7a3uQECt9m";

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

  it("runs the README's steps as written", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), { "127.0.0.1:8080": new URL(example.url).host });
    assert.match(output, /^\{"event":"transaction_confirmed","channel":"vault:HjxQ/m);
    assert.match(output, /^\{"event":"balance_update","channel":"vault:HjxQ/m);
    assert.match(output, /^\{"type":"error","code":"invalid_param","message":"Invalid public key"\}$/m);
  });
});
