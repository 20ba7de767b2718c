/**
 * The dashboard: its HTTP side (static page behind the admin guard, the admin event feed, the
 * channel list) and the page itself in real Chromium (playwright-core) against a real Herald.
 *
 * The page is built with Vite into a temporary directory that the server serves through
 * HERALD_DASHBOARD_DIR. Chromium comes from the system (`apt-get install -y chromium`);
 * CHROMIUM_PATH overrides /usr/bin/chromium. Without it the browser tests skip loudly, or fail
 * when CI=true.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startHerald, TestClient, type RunningHerald } from "../../server/test/support/herald.js";
import { SECRET, hs256 } from "../../server/test/security/attack-support.js";
import { RedisServer, freePort, redisServerSkip } from "../../server/test/support/redis-server.js";
import { startReceiver } from "../../server/test/support/webhook-receiver.js";
import { startNodeProcess, type NodeProcess } from "../../server/test/support/node-process.js";
import { APP, PusherClient } from "../../server/test/support/pusher.js";
import { startSmtp } from "../../server/test/support/smtp-server.js";
import { colourOf } from "../src/event-colour.js";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  const message = `skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === "true") throw new Error(`dashboard browser tests need Chromium in CI: ${message}`);
  console.warn(`\n!!! ${message}\n`);
}

type Context = import("playwright-core").BrowserContext;
type Page = import("playwright-core").Page;

let pageDir = "";
const previousDir = process.env.HERALD_DASHBOARD_DIR;

before(async () => {
  pageDir = await mkdtemp(join(tmpdir(), "herald-dashboard-"));
  const { build } = await import("vite");
  await build({
    root: fileURLToPath(new URL("..", import.meta.url)),
    configFile: fileURLToPath(new URL("../vite.config.ts", import.meta.url)),
    logLevel: "warn",
    build: { outDir: pageDir, emptyOutDir: true },
  });
  process.env.HERALD_DASHBOARD_DIR = pageDir;
});

after(async () => {
  if (previousDir === undefined) delete process.env.HERALD_DASHBOARD_DIR;
  else process.env.HERALD_DASHBOARD_DIR = previousDir;
  await rm(pageDir, { recursive: true, force: true });
});

const publish = async (hub: RunningHerald, channel: string, type: string, data: unknown) => {
  const response = await fetch(`${hub.url}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ channel, type, data }) });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { published: Array<{ offset: number }> }).published[0]!;
};

describe("dashboard over HTTP", () => {
  it("serves the page to the admin with its own CSP, and says to build it when the build is missing", async () => {
    const hub = await startHerald();
    try {
      const page = await fetch(`${hub.url}/dashboard`, { headers: hub.adminHeaders });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      const html = await page.text();
      const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(script, "the page loads its script from /dashboard/assets/");
      const asset = await fetch(`${hub.url}${script}`, { headers: hub.adminHeaders });
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get("content-type") ?? "", /javascript/);
      assert.equal((await fetch(`${hub.url}/dashboard/..%2f..%2fpackage.json`, { headers: hub.adminHeaders })).status, 404);
    } finally {
      await hub.close();
    }
    const empty = await mkdtemp(join(tmpdir(), "herald-no-dashboard-"));
    process.env.HERALD_DASHBOARD_DIR = empty;
    const unbuilt = await startHerald();
    try {
      const answer = await fetch(`${unbuilt.url}/dashboard`, { headers: unbuilt.adminHeaders });
      assert.equal(answer.status, 503);
      const body = (await answer.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "dashboard_not_built");
      assert.match(body.error.message, /npm run build/);
    } finally {
      process.env.HERALD_DASHBOARD_DIR = pageDir;
      await unbuilt.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("with an admin token: refuses without it, and ?token= sets a cookie that opens the page and the feeds", async () => {
    const hub = await startHerald({ security: { adminToken: "admin-secret-123456" } });
    try {
      assert.equal((await fetch(`${hub.url}/dashboard`)).status, 401);
      assert.equal((await fetch(`${hub.url}/api/admin/channels`)).status, 401);
      assert.equal((await fetch(`${hub.url}/dashboard?token=wrong`)).status, 401);
      const unlock = await fetch(`${hub.url}/dashboard?token=admin-secret-123456`, { redirect: "manual" });
      assert.equal(unlock.status, 303);
      assert.equal(unlock.headers.get("location"), "/dashboard/");
      const cookie = unlock.headers.get("set-cookie") ?? "";
      assert.match(cookie, /^herald_admin=admin-secret-123456; Path=\/; HttpOnly; SameSite=Strict/);
      const headers = { cookie: cookie.split(";")[0]! };
      assert.equal((await fetch(`${hub.url}/dashboard/`, { headers })).status, 200);
      assert.equal((await fetch(`${hub.url}/api/admin/channels`, { headers })).status, 200);
      assert.equal((await fetch(`${hub.url}/api/admin/channels`, { headers: { authorization: "Bearer admin-secret-123456" } })).status, 200);
    } finally {
      await hub.close();
    }
  });

  it("streams every published event on /api/admin/events and lists channels with subscriber counts", async () => {
    const hub = await startHerald();
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const controller = new AbortController();
    try {
      client.send({ type: "subscribe", channel: "orders" });
      await client.next("subscribed");
      const channels = (await (await fetch(`${hub.url}/api/admin/channels`, { headers: hub.adminHeaders })).json()) as { channels: Array<{ channel: string; subscribers: number }> };
      assert.deepEqual(channels.channels, [{ channel: "orders", subscribers: 1 }]);

      const response = await fetch(`${hub.url}/api/admin/events`, { headers: hub.adminHeaders, signal: controller.signal });
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const until = async (pattern: RegExp) => {
        while (!pattern.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`feed ended; got ${text}`);
          text += value;
        }
      };
      await until(/event: hello/);
      await publish(hub, "orders", "order_filled", { id: 7 });
      await publish(hub, "nobody-listens", "tick", { n: 1 });
      await until(/"type":"tick"/);
      const frames = [...text.matchAll(/^data: (\{.*"offset".*\})$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
      assert.deepEqual(frames.map((f) => [f.channel, f.type, f.data, f.offset]), [["orders", "order_filled", { id: 7 }, 1], ["nobody-listens", "tick", { n: 1 }, 1]]);
    } finally {
      controller.abort();
      client.socket.close();
      await hub.close();
    }
  });
});

describe("dashboard in Chromium", { skip: !haveChromium && `no Chromium at ${chromiumPath}` }, () => {
  let profileDir = "";
  let browser: Context;
  let hub: RunningHerald;
  /** What the pages logged as a 404 ("Failed to load resource"), favicon included. */
  const notFound: string[] = [];

  before(async () => {
    hub = await startHerald();
    profileDir = await mkdtemp(join(tmpdir(), "herald-chromium-"));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1400, height: 900 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    browser.on("console", (message) => {
      if (/status of 404/.test(message.text())) notFound.push(`${message.text()} ${message.location().url}`);
    });
  });

  after(async () => {
    await browser?.close();
    await hub?.close();
    await rm(profileDir, { recursive: true, force: true });
  });

  const open = async (on: { url: string; herald: { adminToken: string } } = hub): Promise<Page> => {
    const page = await browser.newPage();
    // The URL the start-up banner prints: it sets the admin cookie and redirects to /dashboard/.
    await page.goto(`${on.url}/dashboard?token=${on.herald.adminToken}`);
    await page.waitForFunction(() => document.getElementById("feed-state")?.textContent === "live", undefined, { timeout: 20_000 });
    return page;
  };
  const rows = (page: Page) => page.locator(".event-row").evaluateAll((nodes) => nodes.map((n) => `${(n as HTMLElement).dataset.channel} ${(n as HTMLElement).dataset.type}`));
  const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;

  it("shows a published event in its type's colour, with its fields", async () => {
    const page = await open();
    try {
      const published = await publish(hub, "orders:eu", "order_filled", { orderId: "A-17", qty: 3 });
      const row = page.locator('.event-row[data-type="order_filled"]');
      await row.waitFor({ timeout: 15_000 });
      assert.equal(await row.locator(".event-channel").textContent(), "orders:eu");
      assert.equal(await row.locator(".event-offset").textContent(), `#${published.offset}`);
      assert.equal(await row.locator(".event-data").textContent(), '{"orderId":"A-17","qty":3}');
      assert.equal(await row.evaluate((n) => getComputedStyle(n).borderLeftColor), rgb(colourOf("order_filled")));
      assert.equal(await row.locator(".event-type").evaluate((n) => getComputedStyle(n).color), rgb(colourOf("order_filled")));
      await row.click();
      const detail = JSON.parse((await page.locator("#detail-json").textContent())!) as Record<string, unknown>;
      assert.deepEqual(detail.data, { orderId: "A-17", qty: 3 });
      assert.equal(detail.channel, "orders:eu");
      assert.equal(await page.locator("#detail-trace").count(), 0, "no trace line while the node does not trace");
    } finally {
      await page.close();
    }
  });

  it("names a traced event's trace id in its detail view, on a node with tracing on", async () => {
    // Tracing is per process: a node started through the CLI with the OTEL_* variables, exporting to a local receiver.
    const collector = await startReceiver(() => 200);
    const adminToken = "admin-secret-trace-0123456789";
    let node: NodeProcess | undefined;
    let page: Page | undefined;
    try {
      node = await startNodeProcess("traced", { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "50", HERALD_DASHBOARD_DIR: pageDir, HERALD_ADMIN_TOKEN: adminToken });
      page = await open({ url: node.url, herald: { adminToken } });
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const response = await fetch(`${node.url}/api/publish`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-b7ad6b7169203331-01` },
        body: JSON.stringify({ channel: "bets:42", type: "bet_resolved", data: { won: true } }),
      });
      assert.equal(response.status, 200, await response.clone().text());
      const row = page.locator('.event-row[data-channel="bets:42"]');
      await row.waitFor({ timeout: 15_000 });
      await row.click();
      assert.equal(await page.locator("#detail-trace").textContent(), traceId);
    } finally {
      await page?.close();
      await node?.kill();
      await collector.close();
    }
  });

  it("filters by channel pattern and type, searches the data, and pauses", async () => {
    const page = await open();
    try {
      await publish(hub, "user:1", "balance_update", { total: 10 });
      await publish(hub, "user:2", "login", { ip: "10.0.0.2" });
      await publish(hub, "bets", "bet_resolved", { outcome: "won", amount: 42 });
      await page.locator('.event-row[data-type="bet_resolved"]').waitFor({ timeout: 10_000 });

      await page.fill("#filter-channel", "user:*");
      assert.deepEqual(await rows(page), ["user:2 login", "user:1 balance_update"]);
      await page.selectOption("#filter-type", "balance_update");
      assert.deepEqual(await rows(page), ["user:1 balance_update"]);
      await page.fill("#filter-channel", "");
      await page.selectOption("#filter-type", "");
      await page.fill("#search", "WON");
      assert.deepEqual(await rows(page), ["bets bet_resolved"]);
      await page.fill("#search", "");

      await page.click("#pause");
      await publish(hub, "bets", "while_paused", { n: 1 });
      await page.waitForFunction(() => document.getElementById("pause")?.textContent === "Resume (1 new)", undefined, { timeout: 10_000 });
      assert.equal(await page.locator('.event-row[data-type="while_paused"]').count(), 0);
      await page.click("#pause");
      await page.locator('.event-row[data-type="while_paused"]').waitFor({ timeout: 10_000 });
      assert.equal((await rows(page))[0], "bets while_paused");
    } finally {
      await page.close();
    }
  });

  it("exports what is shown as valid JSON and CSV", async () => {
    const page = await open();
    try {
      await publish(hub, "export:a", "note", { text: 'comma, "quote"\nline' });
      await publish(hub, "export:b", "note", { text: "second" });
      await publish(hub, "elsewhere", "note", { text: "filtered out" });
      await page.locator('.event-row[data-channel="elsewhere"]').waitFor({ timeout: 10_000 });
      await page.fill("#filter-channel", "export:*");

      const [jsonDownload] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
      const exported = JSON.parse(await readFile((await jsonDownload.path())!, "utf8")) as Array<{ channel: string; data: { text: string } }>;
      assert.deepEqual(exported.map((e) => [e.channel, e.data.text]), [["export:b", "second"], ["export:a", 'comma, "quote"\nline']]);

      const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
      assert.match(csvDownload.suggestedFilename(), /\.csv$/);
      const csv = await readFile((await csvDownload.path())!, "utf8");
      const records = parseCsv(csv);
      assert.deepEqual(records[0], ["timestamp", "channel", "type", "offset", "epoch", "data"]);
      assert.deepEqual(records.slice(1).map((r) => [r[1], JSON.parse(r[5]!).text]), [["export:b", "second"], ["export:a", 'comma, "quote"\nline']]);
    } finally {
      await page.close();
    }
  });

  it("publishes from the form to a WebSocket subscriber, refusing invalid JSON first", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const page = await open();
    try {
      client.send({ type: "subscribe", channel: "desk" });
      await client.next("subscribed");
      await page.click("#tab-channels");
      await page.locator('#channel-list li:has-text("desk")').click({ timeout: 10_000 });
      assert.equal(await page.inputValue("#publish-channel"), "desk");
      await page.fill("#publish-type", "announcement");
      await page.fill("#publish-data", "{not json");
      await page.locator("#publish-data-problem").waitFor();
      assert.equal(await page.locator("#publish-send").isDisabled(), true);
      await page.fill("#publish-data", '{"text":"lunch is served"}');
      await page.click("#publish-send");
      const frame = await client.next("announcement", 10_000);
      assert.deepEqual(frame.data, { text: "lunch is served" });
      assert.equal(frame.channel, "desk");
      await page.waitForFunction(() => /published at offset \d+/.test(document.getElementById("publish-result")?.textContent ?? ""), undefined, { timeout: 10_000 });
    } finally {
      await page.close();
      client.socket.close();
    }
  });

  it("disconnects a user from the channel view: their connection closes with 4510, another user's stays", async () => {
    const own = await startHerald({ auth: { jwt: { secret: SECRET } } });
    const connect = async (user: string) => {
      const client = await TestClient.open(`${own.wsUrl}/ws?token=${await hs256({ sub: user }, { expiresIn: "1h" })}`);
      assert.equal((await client.subscribe("desk")).type, "subscribed");
      return client;
    };
    const [alice, bob] = [await connect("alice"), await connect("bob")];
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard?token=${own.herald.adminToken}`);
      await page.click("#tab-channels");
      await page.locator('#channel-list li:has-text("desk")').click({ timeout: 15_000 });
      await page.locator('.disconnect-user[data-user="bob"]').waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#channel-subscribers").textContent(), "2");
      await page.click('.disconnect-user[data-user="alice"]');
      assert.deepEqual(await alice.closed, { code: 4510, reason: "disconnected by an administrator" });
      await page.waitForFunction(() => /alice: 1 connection\(s\) closed on 1 node\(s\)/.test(document.getElementById("disconnect-result")?.textContent ?? ""), undefined, { timeout: 10_000 });
      await page.waitForFunction(() => document.querySelectorAll(".disconnect-user").length === 1, undefined, { timeout: 10_000 });
      assert.equal(await page.locator(".disconnect-user").getAttribute("data-user"), "bob");
      assert.equal(bob.closeCode, undefined, "bob stays connected");
    } finally {
      await page.close();
      await bob.close();
      await own.close();
    }
  });

  it("lists the dead letters of the Redis delivery queue (a Pusher app's webhooks too), and its Retry button delivers them", { skip: redisServerSkip() }, async () => {
    const redis = await RedisServer.start();
    let failing = true;
    const receiver = await startReceiver(() => (failing ? 503 : 204));
    const pusherReceiver = await startReceiver(() => (failing ? 503 : 200));
    const smtpPort = await freePort();
    const tries = { attempts: 2, retryDelay: 20 };
    const queued = await startHerald({
      engine: { type: "redis", redisUrl: redis.url },
      pusher: { apps: [{ ...APP, webhooks: [{ url: pusherReceiver.url, events: ["channel_occupied"], attempts: 2, retryDelay: "20ms" }] }] },
      sinks: {
        webhooks: { endpoints: [{ url: receiver.url, secret: "whsec_0123456789abcdef", on: { channel: "orders:*" }, ...tries }] },
        email: { smtp: { host: "127.0.0.1", port: smtpPort }, rules: [{ on: { channel: "orders:*" }, to: "{data.email}", subject: "Order {data.id}", text: "filled" }], ...tries },
      },
    });
    const page = await open(queued);
    const pusherClient = await PusherClient.connect(queued);
    try {
      await publish(queued, "orders:eu", "order_filled", { id: "A-17", email: "buyer@example.test" });
      await pusherClient.subscribe("orders");
      const hook = page.locator('.dead-letter[data-sink="webhooks"]');
      const mail = page.locator('.dead-letter[data-sink="email"]');
      const pusherHook = page.locator('.dead-letter[data-sink="pusher"]');
      await hook.waitFor({ timeout: 15_000 });
      await mail.waitFor({ timeout: 15_000 });
      await pusherHook.waitFor({ timeout: 15_000 });
      assert.equal(await pusherHook.locator(".dead-letter-error").textContent(), "HTTP 503");
      assert.equal(await pusherHook.locator(".dead-letter-target").textContent(), `${APP.id} → ${pusherReceiver.url}`);
      assert.equal(await pusherHook.locator(".event-channel").textContent(), "orders");
      assert.equal(pusherReceiver.hits.length, 2, "two tries, then a dead letter");
      assert.equal(await hook.locator(".dead-letter-error").textContent(), "HTTP 503");
      assert.equal(await hook.locator(".dead-letter-target").textContent(), receiver.url);
      assert.equal(await mail.locator(".dead-letter-target").textContent(), "Order A-17");
      assert.equal(receiver.hits.length, 2, "two tries, then a dead letter");

      failing = false;
      const smtp = await startSmtp(smtpPort);
      try {
        const id = await hook.getAttribute("data-id");
        assert.equal(id, receiver.hits[0]!.headers["herald-delivery"], "the row names the delivery id");
        await hook.locator("button.retry").click();
        await receiver.until(3);
        assert.equal(receiver.hits[2]!.headers["herald-delivery"], id, "the retry is the same delivery");
        await mail.locator("button.retry").click();
        assert.deepEqual((await smtp.next()).to, ["buyer@example.test"]);
        await pusherHook.locator("button.retry").click();
        await pusherReceiver.until(3);
        assert.equal(pusherReceiver.hits[2]!.raw, pusherReceiver.hits[0]!.raw, "the retry is the same signed POST");
        await page.waitForFunction(() => document.querySelectorAll(".dead-letter").length === 0, undefined, { timeout: 15_000 });
      } finally {
        await smtp.close();
      }
    } finally {
      pusherClient.disconnect();
      await page.close();
      await queued.close();
      await receiver.close();
      await pusherReceiver.close();
      await redis.close();
    }
  });

  it("shows every node of a Redis cluster with its connections, and the totals", { skip: redisServerSkip() }, async () => {
    const redis = await RedisServer.start();
    const config = { engine: { type: "redis" as const, redisUrl: redis.url } };
    const first = await startHerald({ ...config, node: "node-a" });
    const second = await startHerald({ ...config, node: "node-b" });
    const clients = [await TestClient.open(`${second.wsUrl}/ws`), await TestClient.open(`${second.wsUrl}/ws`)];
    const page = await open(first);
    try {
      const group = page.locator(".group-figures");
      await page.waitForFunction(() => document.querySelectorAll(".group-figures .kv").length === 3, undefined, { timeout: 15_000 });
      const lines = await group.locator(".kv").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).innerText.replace(/\s+/g, " ").trim()));
      // The page's own feed is not a hub connection: the two clients on node-b are all there is.
      assert.deepEqual(lines, ["2 answering 2 connections · 0 users · 0 channels", "node-a 0 connections", "node-b 2 connections"]);
    } finally {
      await page.close();
      await Promise.all(clients.map((client) => client.close()));
      await first.close();
      await second.close();
      await redis.close();
    }
  });

  it("keeps the toolbar inside its panel at 1280 px wide, however large the counter grows", async () => {
    const page = await open();
    try {
      await page.setViewportSize({ width: 1280, height: 800 });
      await publish(hub, "wide", "note", { n: 1 });
      await page.locator('.event-row[data-channel="wide"]').waitFor({ timeout: 10_000 });
      // The counter as it reads after a long day: publishing millions of events here would only
      // slow the test, and the layout depends on the text's width alone.
      await page.locator("#shown-count").evaluate((n) => (n.textContent = "12345678 shown · 123456789 received"));
      const panel = (await page.locator("section.stream").boundingBox())!;
      for (const id of ["pause", "filter-channel", "filter-type", "search", "shown-count", "export-json", "export-csv", "clear"]) {
        const box = (await page.locator(`#${id}`).boundingBox())!;
        assert.ok(box.x >= panel.x && box.x + box.width <= panel.x + panel.width, `#${id} spans ${box.x}-${box.x + box.width}, outside the panel's ${panel.x}-${panel.x + panel.width}`);
      }
      const stream = (await page.locator(".stream-body").boundingBox())!;
      assert.ok(stream.height > 200, "the event list keeps its room below a wrapped toolbar");
    } finally {
      await page.close();
    }
  });

  it("renders event data as text, never as HTML", async () => {
    const page = await open();
    try {
      // If escaping broke, the browser would build these elements; the page's CSP would still stop
      // the onerror script, so the test looks for the elements themselves, not a side effect of it.
      const payload = '<img src=x onerror=window.__xss=1><i id="xss-probe">x</i>';
      await publish(hub, "xss", "comment_posted", { html: payload });
      const row = page.locator('.event-row[data-channel="xss"]');
      await row.waitFor({ timeout: 10_000 });
      await row.click();
      assert.equal(await row.locator(".event-data").textContent(), JSON.stringify({ html: payload }));
      assert.ok(await row.locator(".event-data").isVisible());
      assert.ok((await page.locator("#detail-json").textContent())!.includes(JSON.stringify(payload).slice(1, -1)), "the detail shows the payload as text");
      assert.equal(await page.locator("#events img, #detail img").count(), 0);
      assert.equal(await page.locator("#xss-probe").count(), 0, "no element was built from event data");
    } finally {
      await page.close();
    }
  });

  // Last, over every page the tests above opened.
  it("loads every file it asks for: no 404 in the console, not even for a favicon", () => {
    assert.deepEqual(notFound, []);
  });
});

/** A small RFC 4180 reader: quoted fields with doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") record.push(field), (field = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      record.push(field);
      records.push(record);
      (record = []), (field = ""), i++;
    } else field += c;
  }
  return records;
}
