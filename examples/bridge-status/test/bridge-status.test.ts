/**
 * The seed's "Testing Real-time Updates", as a user does it in real Chromium: open the bridge page,
 * request a deposit address, UPDATE the row by hand in SQL and watch the status change colour;
 * then lose Herald, watch the page count its reconnects, change a row meanwhile, and see it after
 * Herald is back.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import type { Page } from "playwright-core";
import { browserTestSkip, launchChromium, waitForText, type Chromium } from "../../shared/browser-test.js";
import { runReadmeSteps } from "../../shared/readme-steps.js";
import { startBridgeStatus, type RunningBridge } from "../src/app.js";
import { dropTables } from "../src/database.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch {
    return `no PostgreSQL at ${databaseUrl}`;
  }
}

const noPostgres = await postgresProblem();
const skip = browserTestSkip("bridge-status", noPostgres);

const GREEN = "rgb(22, 163, 74)";
const BLUE = "rgb(59, 130, 246)";
const YELLOW = "rgb(234, 179, 8)";

describe("example bridge-status in Chromium", { skip }, () => {
  let bridge: RunningBridge;
  let chromium: Chromium;

  before(async () => {
    bridge = await startBridgeStatus({ databaseUrl, tablePrefix: `e2e_${process.pid}_`, logLevel: "silent" });
    chromium = await launchChromium({ width: 760, height: 720 });
  });

  after(async () => {
    await chromium?.close();
    if (bridge) {
      await bridge.stopHerald();
      await dropTables(bridge.pool, bridge.tables);
      await bridge.close();
    }
  });

  const connectionText = (page: Page) => page.locator("#connection .text").textContent();
  const waitConnection = (page: Page, pattern: RegExp) =>
    page.waitForFunction((source) => new RegExp(source).test(document.querySelector("#connection .text")?.textContent ?? ""), pattern.source, { timeout: 20_000 });
  const colour = (page: Page, id: string) => page.locator(`#${id}`).evaluate((element) => getComputedStyle(element).backgroundColor);

  it("moves Pending → Pending Confirmation → Completed on bare SQL updates, and catches up after Herald restarts", async () => {
    const address = "0x52908400098527886E0F7030069857D2E4169EE7";
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${bridge.url}/cas_to_poly.html`);
      await page.fill("#polygon-address", address);
      await page.fill("#amount", "250");
      await page.click("text=Get Cascoin Deposit Address");
      await waitForText(page, "deposit-status", "Pending");
      assert.equal(await colour(page, "deposit-status"), YELLOW);
      await waitConnection(page, /^Real-time updates active$/);
      const depositAddress = await page.locator("#deposit-address").textContent();
      assert.match(depositAddress ?? "", /^C[1-9A-HJ-NP-Za-km-z]{33}$/);

      const { rows } = await bridge.pool.query<{ id: number }>(`SELECT id FROM ${bridge.tables.casDeposits} WHERE polygon_address = $1`, [address]);
      const id = rows[0]!.id;
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'pending_confirmation', amount_received = 250 WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Pending Confirmation");
      assert.equal(await colour(page, "deposit-status"), BLUE);
      assert.equal(await page.locator("#amount-received").textContent(), "250");

      // How fast is measured in bench/; here only that it arrives (waitForText is bounded).
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'completed' WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Completed");
      assert.equal(await colour(page, "deposit-status"), GREEN);

      // Herald goes away: the page counts its attempts, as the seed's indicator did.
      await bridge.stopHerald();
      await waitConnection(page, /^Reconnecting\.\.\. \([1-9]\d*\/10\)$/);
      console.log(`# while Herald is down: "${await connectionText(page)}"`);
      // A change while Herald is down waits in the outbox.
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET mint_tx_hash = '0xfeed', status = 'failed' WHERE id = $1`, [id]);
      await waitConnection(page, /^Reconnecting\.\.\. \([2-9]\/10\)$/);
      await bridge.startHerald();
      await waitConnection(page, /^Real-time updates active$/);
      await waitForText(page, "deposit-status", "Failed");
      assert.equal(await colour(page, "deposit-status"), "rgb(220, 38, 38)");
      assert.equal(await page.locator("#mint-tx").textContent(), "0xfeed");
      const outbox = await bridge.pool.query(`SELECT count(*)::int AS waiting FROM ${bridge.tables.outbox} WHERE published_at IS NULL`);
      assert.equal(outbox.rows[0].waiting, 0, "Herald drained the outbox after its restart");

      // And live updates flow again on the new connection.
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'completed' WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Completed");
      if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
    } finally {
      await page.close();
    }
  });

  it("on @herald/client (/sdk/): the SDK takes over the route's subscription, updates arrive once, and a restart's loss reloads the row", async () => {
    const address = "0x9F5b2C1d4A3e8B7f6C0d1E2a3B4c5D6e7F8a9B0c";
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${bridge.url}/sdk/`);
      await page.fill("#polygon-address", address);
      await page.fill("#amount", "40");
      await page.click("text=Get Cascoin Deposit Address");
      await waitForText(page, "deposit-status", "Pending");
      await waitConnection(page, /^Real-time updates active$/);
      // The insert's own update may come before the subscription does (the seed's page has the same race).
      const before = Number(await page.locator("#updates").textContent());
      assert.ok(before <= 1, `${before} updates for one insert`);
      const { rows } = await bridge.pool.query<{ id: number }>(`SELECT id FROM ${bridge.tables.casDeposits} WHERE polygon_address = $1`, [address]);
      const id = rows[0]!.id;
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'pending_confirmation', amount_received = 40 WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Pending Confirmation");
      assert.equal(await colour(page, "deposit-status"), BLUE);
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'completed' WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Completed");
      // Each update once: the route's subscription and the SDK's are one.
      assert.equal(await page.locator("#updates").textContent(), String(before + 2));

      // Herald restarts on the memory engine: what it published while the page was away is gone
      // from its history, and the SDK says so (recovery_failed): the page reloads the row.
      await bridge.stopHerald();
      await waitConnection(page, /^Reconnecting\.\.\. \(attempt \d+\)$/);
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET mint_tx_hash = '0xbeef', status = 'failed' WHERE id = $1`, [id]);
      await bridge.startHerald();
      await waitConnection(page, /^Real-time updates active$/);
      await waitForText(page, "deposit-status", "Failed");
      assert.equal(await page.locator("#mint-tx").textContent(), "0xbeef");
      await bridge.pool.query(`UPDATE ${bridge.tables.casDeposits} SET status = 'completed' WHERE id = $1`, [id]);
      await waitForText(page, "deposit-status", "Completed");
    } finally {
      await page.close();
    }
  });

  it("says Invalid user address for an address Herald's route rejects", async () => {
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${bridge.url}/poly_to_cas.html`);
      await page.fill("#polygon-address", "0x1234");
      await page.fill("#cas-address", "CqQWYYBCEvYi8zfvT5s9CTzE9pNAQtVVfR");
      await page.click("text=Get wCAS Deposit Address");
      await waitConnection(page, /^Invalid user address$/);
      assert.equal(await page.locator("#form-error").textContent(), "Invalid user address");
    } finally {
      await page.close();
    }
  });

  it("shows Pending Deposit → Deposit Detected → Processed on the Polygon → CAS page", async () => {
    const address = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${bridge.url}/poly_to_cas.html`);
      await page.fill("#polygon-address", address);
      await page.fill("#cas-address", "CqQWYYBCEvYi8zfvT5s9CTzE9pNAQtVVfR");
      await page.click("text=Get wCAS Deposit Address");
      await waitForText(page, "intention-status", "Pending Deposit");
      await waitConnection(page, /^Real-time updates active$/);
      const { rows } = await bridge.pool.query<{ id: number }>(`SELECT id FROM ${bridge.tables.returnIntentions} WHERE polygon_address = $1`, [address]);
      const id = rows[0]!.id;
      await bridge.pool.query(`INSERT INTO ${bridge.tables.polygonTransactions} (polygon_address, tx_hash, amount, status) VALUES ($1, $2, 100, 'confirmed')`, [address, `0x${"ab".repeat(32)}`]);
      await bridge.pool.query(`UPDATE ${bridge.tables.returnIntentions} SET status = 'deposit_detected' WHERE id = $1`, [id]);
      await waitForText(page, "intention-status", "Deposit Detected");
      await bridge.pool.query(`UPDATE ${bridge.tables.returnIntentions} SET status = 'processed', cas_tx_hash = 'c0ffee' WHERE id = $1`, [id]);
      await waitForText(page, "intention-status", "Processed");
      assert.equal(await colour(page, "intention-status"), GREEN);
      assert.equal(await page.locator("#cas-tx").textContent(), "c0ffee");
      assert.equal(await page.locator("#transaction-list .status").textContent(), "Confirmed");
    } finally {
      await page.close();
    }
  });
});

// The README's steps need PostgreSQL but no browser: they run wherever PostgreSQL answers.
describe("example bridge-status: the README's steps", { skip: noPostgres }, () => {
  let bridge: RunningBridge;

  before(async () => {
    bridge = await startBridgeStatus({ databaseUrl, tablePrefix: `steps_${process.pid}_`, logLevel: "silent" });
  });

  after(async () => {
    if (bridge) {
      await dropTables(bridge.pool, bridge.tables);
      await bridge.close();
    }
  });

  it("runs them as written: SQL updates reach the socket, a change made while Herald is stopped is published after it starts", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), {
      "127.0.0.1:8000": new URL(bridge.url).host,
      "127.0.0.1:8001": new URL(bridge.heraldUrl).host,
      "postgres://postgres@127.0.0.1:5432/test": databaseUrl,
      cas_deposits: bridge.tables.casDeposits,
      wcas_return_intentions: bridge.tables.returnIntentions,
      polygon_transactions: bridge.tables.polygonTransactions,
      herald_outbox: bridge.tables.outbox,
    });
    const statuses = (type: string) =>
      output.split("\n").filter((line) => line.startsWith(`{"type":"${type}"`)).map((line) => (JSON.parse(line) as { data: { row: { status: string } } }).data.row.status);
    assert.deepEqual(statuses("cas_deposit_update"), ["pending", "pending_confirmation", "completed"]);
    assert.match(output, /\{"herald":"stopped"\}\nUPDATE 1\n waiting \n-+\n +1\n/, "the change made while Herald was stopped waited in the outbox");
    assert.match(output, /\{"herald":"started"\}\n waiting \n-+\n +0\n/, "and was published once it started");
    assert.deepEqual(statuses("wcas_return_intention_update"), ["pending_deposit", "deposit_detected", "processed"]);
    assert.deepEqual(statuses("polygon_transaction_update"), ["confirmed"]);
  });
});
