/**
 * Seed 2 as a user sees it, in real Chromium: the bettor's page is open, a bet is resolved through
 * the app's API, the toast and the card change on screen, the bettor gets an email at a real SMTP
 * server, and the seed's polling endpoint returns the same update. With EMAIL_WHEN=unseen, the
 * bettor whose page showed the toast gets no email, and once the page is closed, one.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildPage } from "../../shared/build-page.js";
import { browserTestSkip, launchChromium, type Chromium } from "../../shared/browser-test.js";
import { runReadmeSteps } from "../../shared/readme-steps.js";
import { startBetResolutions, type RunningBets } from "../src/app.js";
import { startSmtp, type SmtpSink } from "../../../packages/server/test/support/smtp-server.js";
import { deadline, waitUntil } from "../../../packages/server/test/support/deadline.js";

const skip = browserTestSkip("bet-resolutions");

/** The page, built once for both describes (Vite takes a while), removed after them. */
let pageBuild: Promise<string> | undefined;
const builtPage = (): Promise<string> => (pageBuild ??= buildPage(fileURLToPath(new URL("../web", import.meta.url))));
after(async () => {
  if (pageBuild) await rm(await pageBuild, { recursive: true, force: true });
});

const smtpEnv = (smtp: SmtpSink) => ({ SMTP_SERVER: "127.0.0.1", SMTP_PORT: String(smtp.port), FROM_EMAIL: "noreply@betthat.test", FROM_NAME: "Bet That" });

async function resolve(app: RunningBets, bet: string, result: string): Promise<void> {
  const resolved = await fetch(`${app.url}/api/v1/bets/${bet}/resolve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ result, resolution_notes: "Game completed" }),
  });
  assert.equal(resolved.status, 200);
}

describe("example bet-resolutions in Chromium", { skip }, () => {
  let app: RunningBets;
  let smtp: SmtpSink;
  let chromium: Chromium;

  before(async () => {
    smtp = await startSmtp();
    app = await startBetResolutions({ pageDir: await builtPage(), logLevel: "silent", env: smtpEnv(smtp) });
    chromium = await launchChromium({ width: 1000, height: 620 });
  });

  after(async () => {
    await chromium?.close();
    await app?.close();
    await smtp?.close();
  });

  it("resolving a bet shows a toast and updates its card, emails the bettor, and is returned by polling", async () => {
    const page = await chromium.browser.newPage();
    try {
      const before = new Date().toISOString();
      await page.goto(`${app.url}/?user_id=user456`);
      await page.locator("#connection", { hasText: "Live updates" }).waitFor({ timeout: 20_000 });
      await page.locator("#bet-123 .status", { hasText: "open" }).waitFor();
      const status = (await (await fetch(`${app.url}/ws/status`)).json()) as { active_connections: number; active_users: number };
      assert.deepEqual([status.active_connections, status.active_users], [1, 1]);

      await resolve(app, "123", "win");

      const toast = page.locator(".toast.success", { hasText: "Bet resolved: You won" });
      await toast.waitFor({ timeout: 20_000 });
      assert.match((await toast.textContent()) ?? "", /Lakers beat the Celtics — Game completed/);
      await page.locator("#bet-123 .status", { hasText: "settled" }).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator("#bet-123 .result").textContent(), "win");
      assert.match((await page.locator("#recent").textContent()) ?? "", /#123 Lakers beat the Celtics: win/);

      // The filters see the new state: settled bets are 123 and the one settled before.
      await page.selectOption("#status-filter", "settled");
      assert.deepEqual(await page.locator(".bet").evaluateAll((cards) => cards.map((card) => card.id)), ["bet-123", "bet-125"]);
      await page.selectOption("#result-filter", "win");
      assert.deepEqual(await page.locator(".bet").evaluateAll((cards) => cards.map((card) => card.id)), ["bet-123"]);
      await page.selectOption("#result-filter", "all");
      await page.selectOption("#status-filter", "all");
      if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });

      const mail = await smtp.next();
      assert.deepEqual(mail.to, ["alex@bettor.test"]);
      assert.match(mail.raw, /Subject: Your bet 123 is settled: win/);

      const polled = (await (await fetch(`${app.url}/api/v1/bets/updates?user_id=user456&since=${encodeURIComponent(before)}`)).json()) as {
        updates: Array<{ type: string; bet_id: string; user_id: string; data: { result: string; status: string }; timestamp: string }>;
        last_update: string;
        count: number;
      };
      assert.equal(polled.count, 1);
      assert.deepEqual(
        polled.updates.map((update) => [update.type, update.bet_id, update.user_id, update.data.status, update.data.result]),
        [["bet_resolved", "123", "user456", "settled", "win"]],
      );
      assert.ok(polled.last_update >= polled.updates[0]!.timestamp);
      const later = (await (await fetch(`${app.url}/api/v1/bets/updates?user_id=user456&since=${encodeURIComponent(polled.last_update)}`)).json()) as { count: number };
      assert.equal(later.count, 0, "nothing newer than last_update");
    } finally {
      await page.close();
    }
  });

  it("on @herald/client (?client=sdk): the same page shows a resolution's toast and updates its card", async () => {
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${app.url}/?user_id=user456&client=sdk`);
      await page.locator("#connection", { hasText: "Live updates" }).waitFor({ timeout: 20_000 });
      await page.locator("#bet-124 .status", { hasText: "open" }).waitFor();
      await resolve(app, "124", "loss");
      const toast = page.locator(".toast.error", { hasText: "Bet resolved: You lost" });
      await toast.waitFor({ timeout: 20_000 });
      assert.match((await toast.textContent()) ?? "", /Over 2\.5 goals: Arsenal – Spurs — Game completed/);
      await page.locator("#bet-124 .status", { hasText: "settled" }).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator("#bet-124 .result").textContent(), "loss");
      // One toast for one resolution: the SDK delivers each event once.
      assert.equal(await page.locator(".toast", { hasText: "Over 2.5 goals" }).count(), 1);
    } finally {
      await page.close();
    }
  });

  it("runs the README's steps as written", async () => {
    const output = await runReadmeSteps(new URL("../README.md", import.meta.url), { "127.0.0.1:8000": new URL(app.url).host });
    assert.match(output, /^\{"type":"bet_resolved","bet_id":"123","user_id":"user456",/m, "the socket got the resolution");
    assert.match(output, /^\{"updates":\[.*"type":"bet_resolved"/m, "polling returned it");
  });
});

describe("example bet-resolutions with EMAIL_WHEN=unseen in Chromium", { skip }, () => {
  let app: RunningBets;
  let smtp: SmtpSink;
  let chromium: Chromium;

  before(async () => {
    smtp = await startSmtp();
    app = await startBetResolutions({ pageDir: await builtPage(), logLevel: "silent", env: { ...smtpEnv(smtp), EMAIL_WHEN: "unseen", EMAIL_UNSEEN_AFTER: "3s" } });
    chromium = await launchChromium({ width: 1000, height: 620 });
  });

  after(async () => {
    await chromium?.close();
    await app?.close();
    await smtp?.close();
  });

  it("the bettor who watched the toast appear gets no email; with the page closed, the next resolution is emailed once", async () => {
    const unseen = app.herald.integrations.unseen!;
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${app.url}/?user_id=user456`);
      await page.locator("#connection", { hasText: "Live updates" }).waitFor({ timeout: 20_000 });
      await resolve(app, "123", "win");
      await page.locator(".toast.success", { hasText: "Bet resolved: You won" }).waitFor({ timeout: 20_000 });
      // The page acknowledged what it showed: the receipt a backend reads (GET /api/receipts).
      const channel = "bets:user:user456";
      const { epoch } = await app.herald.hub.history(channel, {});
      await waitUntil("the page's acknowledgement of bet 123", async () => (await app.herald.hub.receipts.highest(channel, epoch, "user456")) === 1);
    } finally {
      await page.close();
    }

    await resolve(app, "124", "loss");
    await waitUntil("both deadlines settled", async () => {
      await unseen.sweep();
      return unseen.status().seen + unseen.status().delivered === 2;
    }, 20_000);
    await deadline(app.herald.integrations.email!.idle(), "the email queue to drain");
    assert.deepEqual(unseen.status(), { seen: 1, delivered: 1 });
    assert.deepEqual(
      smtp.messages.map((mail) => [mail.to, /Subject: ([^\r\n]*)/.exec(mail.raw)?.[1]]),
      [[["alex@bettor.test"], "Your bet 124 is settled: loss"]],
      "no email for bet 123, whose toast the page showed; one for bet 124, resolved with the page closed",
    );
  });
});
