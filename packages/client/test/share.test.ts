/**
 * One connection per browser: tabs of one origin (pages of one Chromium profile) share a single
 * Herald connection, in leader-tab mode (Web Locks + BroadcastChannel) and in SharedWorker mode,
 * against a real Herald behind the test proxy, which also serves the page so page and Herald
 * share an origin. A second proxy on another port is another origin.
 *
 * Chromium comes from the system (`apt-get install -y chromium`); CHROMIUM_PATH overrides
 * /usr/bin/chromium. Without it the tests skip loudly, or fail when CI=true.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { browserTestSkip, launchChromium, waitForText, type Chromium } from "../../../examples/shared/browser-test.js";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { SignJWT } from "jose";
import { FlakyProxy } from "./support/proxy.js";

type Page = import("playwright-core").Page;

const skip = browserTestSkip("client sharing");
const WAIT_MS = 20_000;

interface Status {
  connections: number;
  subscriptions: number;
}

async function status(hub: RunningHerald): Promise<Status> {
  return (await (await fetch(`${hub.url}/api/status`, { headers: hub.adminHeaders })).json()) as Status;
}

/** Waits until Herald counts exactly these connections and subscriptions (the pages attach asynchronously). */
async function untilStatus(hub: RunningHerald, expected: Status): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const now = await status(hub);
    if (now.connections === expected.connections && now.subscriptions === expected.subscriptions) return;
    if (Date.now() > deadline) throw new Error(`Herald counts ${JSON.stringify(now)}, expected ${JSON.stringify(expected)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** 1..n as the page lists them. */
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(",");

describe("browser: one connection per browser profile and origin", { skip }, () => {
  let pageDir = "";
  let chromium: Chromium;

  before(async () => {
    pageDir = await mkdtemp(join(tmpdir(), "herald-share-page-"));
    const { build } = await import("esbuild");
    await build({
      absWorkingDir: fileURLToPath(new URL("..", import.meta.url)),
      entryPoints: { main: "test/share-page/main.ts", "share-worker": "src/share/worker.ts" },
      outdir: pageDir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2020",
      conditions: ["herald-source"],
      logLevel: "warning",
    });
    await copyFile(fileURLToPath(new URL("./share-page/index.html", import.meta.url)), join(pageDir, "index.html"));
    chromium = await launchChromium({ width: 800, height: 600 });
  });

  after(async () => {
    await chromium?.close();
    await rm(pageDir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await chromium.browser.newPage();
    await page.goto(url);
    await waitForText(page, "state", "connected");
    await waitForText(page, "subscription", "subscribed");
    return page;
  }

  it("leader tab: five tabs, one connection; events reach all; a tab's own channel goes with it; the leader closes and another takes over losing nothing; another origin has its own", async () => {
    // History long enough for whatever the publisher manages while no tab holds a connection.
    const hub = await startHerald({ history: { size: 100_000 }, namespaces: { user: { clientPublish: true } } });
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const other = await FlakyProxy.start(hub.url, pageDir);
    const pages: Page[] = [];
    let published = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) assert.equal((await hub.herald.publish("user:share", "tick", { n: ++published })).offset, published);
    };
    try {
      // The first tab leads: the others queue behind it for the lock.
      // WebSocket only, so that the new leader does not fall back to SSE while the network is down.
      pages.push(await open(`${proxy.url}/?transports=websocket`));
      for (let i = 1; i < 5; i++) pages.push(await open(`${proxy.url}/?transports=websocket${i === 2 ? "&extra=user:only-tab-2" : ""}`));
      await waitForText(pages[2]!, "extra", "subscribed");
      await untilStatus(hub, { connections: 1, subscriptions: 2 });
      assert.equal(proxy.seen.get("/ws"), 1, "one WebSocket for five tabs");

      await publish(9);
      // A tab that does not hold the connection publishes through the one that does.
      const offset = await pages[3]!.evaluate(async () => (await (globalThis as unknown as { herald: import("../src/index.js").Herald }).herald.publish("user:share", "tick", { from: "tab" })).offset);
      assert.equal(offset, ++published);
      for (const page of pages) await waitForText(page, "offsets", upTo(10));

      // The channel only tab 2 wanted goes when it closes; the one the others want stays.
      await pages[2]!.close();
      pages.splice(2, 1);
      await untilStatus(hub, { connections: 1, subscriptions: 1 });

      // The leader closes while events keep coming. New connections fail for a while, so that some
      // events surely fall between the old connection and the new one; then the next tab connects
      // and every tab resumes from its own position.
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await publish(1);
          // A steady trickle, not a flood: the pages list every offset.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      proxy.down = true;
      await pages.shift()!.close();
      for (const page of pages) await waitForText(page, "state", "reconnecting");
      const duringOutage = published + 3;
      while (published < duringOutage) await new Promise((resolve) => setTimeout(resolve, 5));
      proxy.down = false;
      for (const page of pages) await waitForText(page, "state", "connected");
      publishing = false;
      await publisher;
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(published));
      for (const page of pages) assert.equal(await page.locator("#recovery-failed").textContent(), "0");
      assert.equal(proxy.seen.get("/ws"), 2, "one new connection for the four tabs left");
      assert.ok((proxy.seen.get("/api/history") ?? 0) >= 1, "the tabs caught up from the server's history");
      await untilStatus(hub, { connections: 1, subscriptions: 1 });

      // Another origin (another port): its own connection.
      const foreign = await open(`${other.url}/`);
      pages.push(foreign);
      await untilStatus(hub, { connections: 2, subscriptions: 2 });
      await publish(1);
      for (const page of pages) await waitForText(page, "count", String(page === foreign ? 1 : published));
    } finally {
      for (const page of pages) await page.close();
      await proxy.close();
      await other.close();
      await hub.close();
    }
  });

  it("share: false: one connection per tab", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const pages: Page[] = [];
    try {
      for (let i = 0; i < 3; i++) pages.push(await open(`${proxy.url}/?share=off`));
      await untilStatus(hub, { connections: 3, subscriptions: 3 });
      await hub.herald.publish("user:share", "tick", {});
      for (const page of pages) await waitForText(page, "offsets", "1");
    } finally {
      for (const page of pages) await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("SharedWorker: five tabs, one connection held by the worker; tabs close and the rest keep receiving; a network drop reaches every tab and loses nothing", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const pages: Page[] = [];
    let published = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) await hub.herald.publish("user:share", "tick", { n: ++published });
    };
    try {
      for (let i = 0; i < 5; i++) pages.push(await open(`${proxy.url}/?worker=1${i === 3 ? "&extra=user:only-tab-3" : ""}`));
      await untilStatus(hub, { connections: 1, subscriptions: 2 });
      assert.equal(proxy.seen.get("/share-worker.js"), 1, "the worker script was loaded once, for every tab");
      assert.equal(proxy.seen.get("/ws"), 1);
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(5));

      // The first tab and the one with its own channel close: the worker stays for the others.
      await pages[3]!.close();
      await pages[0]!.close();
      pages.splice(3, 1);
      pages.splice(0, 1);
      await untilStatus(hub, { connections: 1, subscriptions: 1 });
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(10));
      assert.equal(proxy.seen.get("/ws"), 1, "the worker's connection was never replaced");

      // The network drops under the worker while events keep coming: every tab shows it, and
      // gets what was missed once the worker has reconnected.
      proxy.fail();
      for (const page of pages) await waitForText(page, "state", "reconnecting");
      await publish(5);
      proxy.restore();
      for (const page of pages) await waitForText(page, "state", "connected");
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(20));
      for (const page of pages) assert.equal(await page.locator("#recovery-failed").textContent(), "0");
    } finally {
      for (const page of pages) await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("SharedWorker: when the worker is gone, the tabs start another and lose nothing", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const pages: Page[] = [];
    let published = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) await hub.herald.publish("user:share", "tick", { n: ++published });
    };
    try {
      for (let i = 0; i < 3; i++) pages.push(await open(`${proxy.url}/?worker=1`));
      const cdp = await chromium.browser.newCDPSession(pages[0]!);
      await untilStatus(hub, { connections: 1, subscriptions: 1 });
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(5));

      // The browser ends the worker (as after a crash): its Web Lock is released with it.
      const { targetInfos } = (await cdp.send("Target.getTargets")) as { targetInfos: Array<{ targetId: string; type: string }> };
      const workers = targetInfos.filter((target) => target.type === "shared_worker");
      assert.equal(workers.length, 1);
      await cdp.send("Target.closeTarget", { targetId: workers[0]!.targetId });
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(10));
      await untilStatus(hub, { connections: 1, subscriptions: 1 });
      assert.equal(proxy.seen.get("/ws"), 2, "a new worker opened one new connection for every tab");
      await publish(5);
      for (const page of pages) await waitForText(page, "offsets", upTo(15));
      for (const page of pages) assert.equal(await page.locator("#recovery-failed").textContent(), "0");
      await cdp.detach();
    } finally {
      for (const page of pages) await page.close();
      await proxy.close();
      await hub.close();
    }
  });

  it("SharedWorker: the worker asks a tab for the token (getToken cannot cross into it), once for every tab", async () => {
    const secret = "client-share-secret-0123456789abcdef";
    const hub = await startHerald({ auth: { jwt: { secret } }, namespaces: { user: { subscribe: "authenticated" } } });
    const proxy = await FlakyProxy.start(hub.url, pageDir);
    const token = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(secret));
    const pages: Page[] = [];
    try {
      for (let i = 0; i < 3; i++) pages.push(await open(`${proxy.url}/?worker=1&token=${token}`));
      await untilStatus(hub, { connections: 1, subscriptions: 1 });
      let calls = 0;
      for (const page of pages) calls += Number(await page.locator("#token-calls").textContent());
      assert.equal(calls, 1, "one getToken call for the one connection");
      await hub.herald.publish("user:share", "tick", {});
      for (const page of pages) await waitForText(page, "offsets", "1");
    } finally {
      for (const page of pages) await page.close();
      await proxy.close();
      await hub.close();
    }
  });
});
