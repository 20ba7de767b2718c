/**
 * End to end, following the seed's "Testing" section as a user would: connect like wscat to
 * /ws?token=… and get `connected` with a connection id and the 30 s ping interval; open the
 * dashboard page (token in its URL) in real Chromium; POST /api/anchors (then a corridor and a
 * snapshot) and see each update on the page and on the bare socket, flat as the seed sent them.
 * A page with a wrong token is refused and says so.
 *
 * Chromium: see examples/shared/browser-test.ts. SCREENSHOTS=1 also saves the README's screenshots.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { TestClient } from "../../../packages/server/test/support/herald.js";
import { buildPage } from "../../shared/build-page.js";
import { browserTestSkip, launchChromium, untilSubscriptions, waitForText, type Chromium } from "../../shared/browser-test.js";
import { runReadmeSteps } from "../../shared/readme-steps.js";
import { startAnalyticsExample, type AnalyticsExample } from "../src/app.js";

const skip = browserTestSkip("analytics-broadcast");

const token = "analytics-example-token-0123";

describe("example: analytics broadcast", { skip }, () => {
  let pageDir = "";
  let chromium: Chromium;
  let example: AnalyticsExample;

  before(async () => {
    pageDir = await buildPage(fileURLToPath(new URL("../web", import.meta.url)));
    example = await startAnalyticsExample({ token, port: 0, host: "127.0.0.1", pageDir, logLevel: "silent" });
    chromium = await launchChromium({ width: 860, height: 600 });
  });

  after(async () => {
    await chromium?.close();
    await example?.close();
    await rm(pageDir, { recursive: true, force: true });
  });

  const waitContains = (page: Page, id: string, expected: string) =>
    page.waitForFunction(([id, expected]) => document.getElementById(id!)?.textContent?.includes(expected!) === true, [id, expected] as const, { timeout: 20_000 });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${example.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as { id: string };
  };

  it("pushes anchor, corridor and snapshot updates to the page and to a bare socket", async () => {
    // Steps 2-3 of the seed: wscat -c ws://host/ws (with the token) gets `connected`.
    const wscat = await TestClient.open(`${example.url.replace("http", "ws")}/ws?token=${token}`);
    const page = await chromium.browser.newPage();
    try {
      const connected = await wscat.next("connected");
      assert.match(String(connected.connectionId), /^[0-9a-f-]{36}$/);
      assert.equal(connected.pingInterval, 30_000);

      await page.goto(`${example.url}/?token=${token}`);
      await waitForText(page, "status", "Connected");
      // The page shows only "Connected"; Herald counts three channels for the bare socket, three for the page.
      await untilSubscriptions(example.url, 6);

      // Step 4: curl -X POST /api/anchors; step 5: the update arrives.
      const anchor = await post("/api/anchors", { name: "Test Anchor", stellar_account: "GABC" });
      await waitContains(page, "anchors", "Test Anchor");
      await waitContains(page, "last-message", `"anchor_id": "${anchor.id}"`);
      assert.deepEqual(await wscat.next("anchor_update"), { type: "anchor_update", anchor_id: anchor.id, name: "Test Anchor", reliability_score: 100, status: "green" });

      const corridor = await post("/api/corridors", { corridor_key: "USDC:GA5Z->EURC:GDHU", success_rate: 95.5, volume_usd: 1_000_000, total_transactions: 1000 });
      await waitContains(page, "corridors", "USDC:GA5Z->EURC:GDHU");
      assert.equal((await wscat.next("corridor_update")).corridor_id, corridor.id);

      const response = await fetch(`${example.url}/api/anchors/${anchor.id}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reliability_score: 82 }) });
      assert.equal(response.status, 200);
      await waitContains(page, "anchors", "Test Anchor82.0% yellow");

      await post("/api/snapshots", {});
      await waitContains(page, "snapshot", "epoch 1 · ");
      assert.equal((await wscat.next("snapshot_update")).epoch, 1);

      if (process.env.SCREENSHOTS === "1") {
        await page.screenshot({ path: fileURLToPath(new URL("../screenshot.png", import.meta.url)), fullPage: true });
      }
    } finally {
      await page.close();
      await wscat.close();
    }
  });

  it("refuses a wrong token, and the page shows why", async () => {
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${example.url}/?token=not-the-token`);
      await waitForText(page, "error", "the token is not valid");
      assert.equal(await page.locator("#status").textContent(), "Disconnected");

      const wscat = await TestClient.open(`${example.url.replace("http", "ws")}/ws?token=not-the-token`);
      assert.deepEqual(await wscat.closed, { code: 4501, reason: "the token is not valid" });
      if (process.env.SCREENSHOTS === "1") {
        await page.screenshot({ path: fileURLToPath(new URL("../screenshot-refused.png", import.meta.url)) });
      }
    } finally {
      await page.close();
    }
  });

  it("runs the README's steps as written", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), { "127.0.0.1:8080": new URL(example.url).host, "choose-a-long-token": token });
    assert.match(output, /^\{"type":"anchor_update","anchor_id":"[^"]+","name":"Test Anchor"/m);
    assert.match(output, /^\{"type":"error","code":"unauthorized","message":"the token is not valid"\}$/m);
    assert.match(output, /^\{"type":"error","code":"unauthorized","message":"authenticate: \?token= or the auth cookie"\}$/m);
  });
});
