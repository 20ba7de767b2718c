/**
 * End to end, following the seed's "Testing" section as a user would: the status endpoint says
 * the upstream is not connected while no monitor is open; opening the monitor in real Chromium
 * makes Herald join the (fake, Socket.IO) exchange feed; a test order placed on the exchange
 * appears as the top card, in the order colour; closing the tab makes Herald leave the feed.
 *
 * Chromium: see examples/shared/browser-test.ts. SCREENSHOTS=1 also saves the README's screenshot.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildPage } from "../../shared/build-page.js";
import { browserTestSkip, launchChromium, type Chromium } from "../../shared/browser-test.js";
import { runReadmeSteps } from "../../shared/readme-steps.js";
import { startExchangeFeedExample, type ExchangeFeedExample } from "../src/app.js";
import { startFakeExchange, type FakeExchange } from "../src/fake-exchange.js";

const skip = browserTestSkip("exchange-feed");

type Status = { active_connections: number; coindcx_connected: boolean };

describe("example: exchange feed bridge", { skip }, () => {
  let pageDir = "";
  let chromium: Chromium;
  let exchange: FakeExchange;
  let example: ExchangeFeedExample;

  before(async () => {
    pageDir = await buildPage(fileURLToPath(new URL("../web", import.meta.url)));
    exchange = await startFakeExchange({ port: 0 });
    example = await startExchangeFeedExample({ upstreamUrl: exchange.url, port: 0, host: "127.0.0.1", pageDir, logLevel: "silent" });
    chromium = await launchChromium({ width: 800, height: 420 });
  });

  after(async () => {
    await chromium?.close();
    await example?.close();
    await exchange?.close();
    await rm(pageDir, { recursive: true, force: true });
  });

  const status = async (): Promise<Status> => (await (await fetch(`${example.url}/api/v1/ws/status`)).json()) as Status;

  /** `curl /api/v1/ws/status` until it answers what is expected (the bridge changes state on its own time). */
  async function untilStatus(expected: Status): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const now = await status();
      if (now.active_connections === expected.active_connections && now.coindcx_connected === expected.coindcx_connected) return;
      if (Date.now() > deadline) assert.fail(`status is ${JSON.stringify(now)}, expected ${JSON.stringify(expected)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("joins the feed with the first monitor, shows a test order on top in the order colour, leaves with the last", async () => {
    assert.deepEqual(await status(), { active_connections: 0, coindcx_connected: false });
    assert.equal(exchange.clients(), 0);

    const page = await chromium.browser.newPage();
    let closed = false;
    try {
      await page.goto(`${example.url}/`);
      await page.waitForFunction(() => document.getElementById("connection")?.textContent === "Live", undefined, { timeout: 20_000 });
      await untilStatus({ active_connections: 1, coindcx_connected: true });
      assert.equal(exchange.clients(), 1);

      // A position and a balance update first, then the test order (the seed's testcoindcxf_auto.py).
      await (await fetch(`${exchange.url}/tick`, { method: "POST" })).text();
      await page.waitForFunction(() => document.querySelectorAll("#events .card.balance").length === 1, undefined, { timeout: 20_000 });
      const response = await fetch(`${exchange.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pair: "B-ETH_USDT", side: "buy", price: 3500 }) });
      assert.equal(response.status, 201);
      const order = (await response.json()) as { id: string };

      const top = page.locator("#events > li").first();
      await page.waitForFunction(() => document.querySelector("#events > li")?.getAttribute("data-type") === "order", undefined, { timeout: 20_000 });
      assert.match((await top.textContent()) ?? "", /ETH limit buy order placed! B-ETH_USDT · buy 0\.01 @ 3500 · open/);
      assert.equal(await top.evaluate((card) => getComputedStyle(card).borderLeftColor), "rgb(59, 130, 246)");
      const types = await page.locator("#events > li").evaluateAll((cards) => cards.map((card) => card.getAttribute("data-type")));
      assert.deepEqual(types, ["order", "balance", "position", "system"]);
      assert.ok(order.id);

      if (process.env.SCREENSHOTS === "1") await page.screenshot({ path: fileURLToPath(new URL("../screenshot.png", import.meta.url)) });

      await page.close();
      closed = true;
      // The bridge lingers 2 s after the last monitor left, then disconnects from the exchange.
      await untilStatus({ active_connections: 0, coindcx_connected: false });
      assert.equal(exchange.clients(), 0);
    } finally {
      if (!closed) await page.close();
    }
  });

  it("runs the README's steps as written", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), { "127.0.0.1:8000": new URL(example.url).host, "127.0.0.1:8090": new URL(exchange.url).host });
    const statuses = output.split("\n").filter((line) => line.startsWith('{"active_connections"'));
    assert.deepEqual(statuses, ['{"active_connections":0,"coindcx_connected":false}', '{"active_connections":1,"coindcx_connected":true}']);
    assert.match(output, /^\{"type":"order","channel":"coindcx:events","data":\{"id":"[^"]+","pair":"B-ETH_USDT","side":"buy"/m);
  });
});
