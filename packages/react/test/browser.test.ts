/**
 * Browser tests: a page built with Vite that uses @herald/client and @herald/react, in real
 * Chromium driven by playwright-core, against a real Herald behind a proxy that can drop the
 * network and refuse WebSocket upgrades or SSE (as some corporate proxies do).
 *
 * Chromium comes from the system (`apt-get install -y chromium`); CHROMIUM_PATH overrides
 * /usr/bin/chromium. Without it the tests skip loudly, or fail when CI=true.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHerald } from "@herald/server";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { FlakyProxy } from "../../client/test/support/proxy.js";
import { until } from "../../client/test/support/wait.js";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  const message = `skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === "true") throw new Error(`browser tests need Chromium in CI: ${message}`);
  console.warn(`\n!!! ${message}\n`);
}

type Context = import("playwright-core").BrowserContext;
type Page = import("playwright-core").Page;

describe("browser: SDK and React hooks in Chromium", { skip: !haveChromium && `no Chromium at ${chromiumPath}` }, () => {
  let pageDir = "";
  let profileDir = "";
  let browser: Context;

  before(async () => {
    pageDir = await mkdtemp(join(tmpdir(), "herald-page-"));
    profileDir = await mkdtemp(join(tmpdir(), "herald-chromium-"));
    const { build, defaultClientConditions } = await import("vite");
    await build({
      root: fileURLToPath(new URL("./browser-page", import.meta.url)),
      logLevel: "warn",
      configFile: false,
      resolve: { conditions: ["herald-source", ...defaultClientConditions] },
      esbuild: { jsx: "automatic" },
      build: { outDir: pageDir, emptyOutDir: true, minify: false },
    });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    await browser?.close();
    await rm(pageDir, { recursive: true, force: true });
    await rm(profileDir, { recursive: true, force: true });
  });

  const text = (page: Page, id: string) => page.locator(`#${id}`).textContent();
  const waitText = (page: Page, id: string, expected: string) =>
    page.waitForFunction(([id, expected]) => document.getElementById(id!)?.textContent === expected, [id, expected] as const, { timeout: 20_000 });

  it("shows the newest value with useLatest, and reconnects after the server restarts", async () => {
    let hub: RunningHerald = await startHerald();
    const port = hub.herald.port;
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const page = await browser.newPage();
    try {
      await page.goto(`${proxy.url}/?channel=user:restart`);
      await waitText(page, "state", "connected");
      await waitText(page, "subscription", "subscribed");
      assert.equal(await text(page, "transport"), "websocket");
      for (const availableBalance of [100, 80]) await hub.herald.publish("user:restart", "balance_update", { availableBalance });
      await waitText(page, "balance", "80");
      assert.equal(await text(page, "balance-again"), "80");
      // Two components on the channel, StrictMode double effects: one server subscription.
      const status = (await (await fetch(`${hub.url}/api/status`)).json()) as { subscriptions: number };
      assert.equal(status.subscriptions, 1);

      await hub.close();
      await waitText(page, "state", "reconnecting");
      const restarted = await createHerald({ config: { logLevel: "silent" } });
      await restarted.listen({ port, host: "127.0.0.1" });
      hub = { ...hub, herald: restarted, close: () => restarted.close() };
      await waitText(page, "state", "connected");
      await waitText(page, "recovery-failed", "1");
      await hub.herald.publish("user:restart", "balance_update", { availableBalance: 55 });
      await waitText(page, "balance", "55");
    } finally {
      await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("useLatest shows a cache: true channel's latest value at once, before any new event", async () => {
    const hub = await startHerald({ namespaces: { price: { cache: true } } });
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const page = await browser.newPage();
    try {
      for (const availableBalance of [100, 80]) await hub.herald.publish("price:late", "balance_update", { availableBalance });
      await page.goto(`${proxy.url}/?channel=price:late`);
      await waitText(page, "balance", "80");
      assert.equal(await text(page, "balance-again"), "80");
      assert.equal(await text(page, "subscription"), "subscribed");
      await hub.herald.publish("price:late", "balance_update", { availableBalance: 70 });
      await waitText(page, "balance", "70");
    } finally {
      await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("useChannelState applies the events published between the state read and the subscription once each, and reloads after a restart", async () => {
    let hub: RunningHerald = await startHerald();
    const port = hub.herald.port;
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const page = await browser.newPage();
    // The app's backend: its list, the position of its last publish, and how often the page loaded it.
    const backend = { items: [] as number[], position: { epoch: "", offset: 0 }, loads: 0, n: 0 };
    const add = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const n = ++backend.n;
        const published = await hub.herald.publish("user:state", "added", { n });
        backend.items.push(n);
        backend.position = { epoch: published.epoch, offset: published.offset };
      }
    };
    let onLoad = () => {};
    const expected = () => Array.from({ length: backend.n }, (_, i) => i + 1).join(",");
    try {
      await page.exposeFunction("loadState", async () => {
        backend.loads += 1;
        const read = { state: [...backend.items], position: { ...backend.position } };
        // Published after the state was read, before the page subscribes.
        await add(2);
        onLoad();
        return read;
      });
      await add(3);
      const loaded = until(() => backend.loads > 0, "the page to load its state", 20_000);
      onLoad = loaded.poke;
      await page.goto(`${proxy.url}/?channel=user:state&state=1`);
      await loaded.done;
      await waitText(page, "items", expected());
      assert.equal(backend.n, 5);
      await add(2);
      await waitText(page, "items", expected());

      const loadsBefore = backend.loads;
      const reloaded = until(() => backend.loads > loadsBefore, "getState called again after the restart", 20_000);
      onLoad = reloaded.poke;
      await hub.close();
      await waitText(page, "state", "reconnecting");
      const restarted = await createHerald({ config: { logLevel: "silent" } });
      await restarted.listen({ port, host: "127.0.0.1" });
      hub = { ...hub, herald: restarted, close: () => restarted.close() };
      await waitText(page, "state", "connected");
      await reloaded.done;
      await add(2);
      await waitText(page, "items", expected());
      assert.ok(backend.loads > loadsBefore, "getState was called again after the restart");
    } finally {
      await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("reconnects at once when the browser comes back online, instead of after the backoff delay", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const page = await browser.newPage();
    try {
      // A ten-minute backoff floor: within the test, only the `online` retry can reconnect.
      await page.goto(`${proxy.url}/?channel=user:online&minDelay=600000`);
      await waitText(page, "state", "connected");
      await browser.setOffline(true);
      await page.waitForFunction(() => navigator.onLine === false, undefined, { timeout: 20_000 });
      proxy.cut();
      await waitText(page, "state", "reconnecting");
      assert.equal(await text(page, "reason"), "transport_closed");
      await browser.setOffline(false);
      await waitText(page, "state", "connected");
      await hub.herald.publish("user:online", "balance_update", { availableBalance: 7 });
      await waitText(page, "balance", "7");
    } finally {
      await browser.setOffline(false);
      await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("falls back WebSocket → SSE → polling when they are refused, losing no event across the switches", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    proxy.refuseWebSocket = true;
    const page = await browser.newPage();
    const expected: number[] = [];
    let n = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) expected.push((await hub.herald.publish("user:fallback", "tick", { n: ++n })).offset);
    };
    try {
      await page.goto(`${proxy.url}/?channel=user:fallback`);
      await waitText(page, "transport", "sse");
      await waitText(page, "state", "connected");
      await waitText(page, "subscription", "subscribed");
      await publish(5);
      await waitText(page, "offsets", expected.join(","));

      proxy.refuseSse = true;
      proxy.cut();
      await waitText(page, "state", "reconnecting");
      await publish(5); // while the page is between transports
      await waitText(page, "transport", "polling");
      await waitText(page, "state", "connected");
      await publish(5);
      await waitText(page, "offsets", expected.join(","));
      assert.deepEqual(expected, Array.from({ length: 15 }, (_, i) => i + 1));
      assert.ok((proxy.seen.get("/ws") ?? 0) >= 2, "the WebSocket was tried first");
      assert.ok((proxy.seen.get("/sse") ?? 0) >= 3, "SSE was used, then tried again before polling");
    } finally {
      await page.close();
      await proxy.close();
      await hub.close();
    }
  });
});
