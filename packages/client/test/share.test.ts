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

/**
 * Waits until the page has listed exactly `expected` (as `channel@offset`) in `#events`, in any
 * order across channels, then checks that each channel's events came in offset order (`ordered`:
 * not across a new epoch, whose offsets start again at 1).
 */
async function untilEvents(page: Page, expected: readonly string[], ordered = true): Promise<void> {
  const want = [...expected].sort();
  const listed = async () => ((await page.locator("#events").textContent()) ?? "").split(",").filter(Boolean);
  try {
    await page.waitForFunction((want) => JSON.stringify((document.getElementById("events")!.textContent ?? "").split(",").filter(Boolean).sort()) === JSON.stringify(want), want, { timeout: WAIT_MS });
  } catch (error) {
    throw new Error(`${page.url()} lists ${(await listed()).join(",")}; expected, in any order, ${want.join(",")}`, { cause: error });
  }
  if (!ordered) return;
  const last = new Map<string, number>();
  for (const event of await listed()) {
    const [channel, offset] = event.split("@") as [string, string];
    assert.ok(Number(offset) > (last.get(channel) ?? 0), `${page.url()}: ${channel}'s events out of order in ${(await listed()).join(",")}`);
    last.set(channel, Number(offset));
  }
}

type PatternMode = "leader tab" | "SharedWorker";
type PatternTab = "named" | "pattern" | "filtered";

/** What each tab of the pattern tests subscribed to: orders:1 by name, orders:*, orders:* with desk=north. */
const WANTS: Record<PatternTab, (channel: string, desk: string) => boolean> = {
  named: (channel) => channel === "orders:1",
  pattern: () => true,
  filtered: (_channel, desk) => desk === "north",
};

/** Publishes tagged events and keeps what each tab listening must list, as `channel@offset`. */
class PatternLog {
  readonly expected: Record<PatternTab, string[]> = { named: [], pattern: [], filtered: [] };
  readonly listening = new Set<PatternTab>();
  private readonly tabs: Partial<Record<PatternTab, Page>>;

  constructor(
    public hub: RunningHerald,
    tabs: Partial<Record<PatternTab, Page>>,
  ) {
    this.tabs = { ...tabs };
    for (const tab of Object.keys(tabs) as PatternTab[]) this.listening.add(tab);
  }

  /** A tab starts listening, having listed `listed` so far. */
  listen(tab: PatternTab, page: Page, listed: string[]): void {
    this.tabs[tab] = page;
    this.expected[tab] = listed;
    this.listening.add(tab);
  }

  async publish(channel: string, desk: string): Promise<void> {
    const { offset } = await this.hub.herald.publish(channel, "tick", { desk }, { tags: { desk } });
    for (const tab of this.listening) if (WANTS[tab](channel, desk)) this.expected[tab].push(`${channel}@${offset}`);
  }

  /** Waits until every tab still listening lists exactly its events. */
  async settled(ordered = true): Promise<void> {
    for (const tab of this.listening) await untilEvents(this.tabs[tab]!, this.expected[tab], ordered);
  }
}

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

  /** Opens a tab once its subscription is in place; `errors` collects what the page throws uncaught. */
  async function open(url: string, errors: string[] = []): Promise<Page> {
    const page = await chromium.browser.newPage();
    page.on("pageerror", (error) => errors.push(`${url}: ${error.message}`));
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

  /**
   * The tabs of the pattern tests, sharing one connection: `first` (the page's default channel; it
   * leads in leader mode), `pattern` on orders:* (with user:marker by name beside it), `filtered`
   * on orders:* with the tag filter desk=north, and, once `openNamed` is called, `named` on orders:1.
   */
  async function patternTabs(mode: PatternMode, proxy: FlakyProxy, errors: string[]): Promise<{ first: Page; tabs: Record<Exclude<PatternTab, "named">, Page>; openNamed: () => Promise<Page>; pages: Page[] }> {
    const base = `${proxy.url}/?transports=websocket${mode === "SharedWorker" ? "&worker=1" : ""}`;
    const pages: Page[] = [];
    const opened = async (query: string): Promise<Page> => {
      const page = await open(base + query, errors);
      pages.push(page);
      return page;
    };
    const first = await opened("");
    const tabs = {
      pattern: await opened(`&channel=${encodeURIComponent("orders:*")}&extra=user:marker`),
      filtered: await opened(`&channel=${encodeURIComponent("orders:*")}&filter=${encodeURIComponent("desk=north")}`),
    };
    await waitForText(tabs.pattern, "extra", "subscribed");
    return { first, tabs, openNamed: () => opened("&channel=orders:1"), pages };
  }

  for (const mode of ["leader tab", "SharedWorker"] as const) {
    it(`${mode}: patterns, with and without a tag filter, beside a channel held by name: each tab gets exactly its events, across a network drop and a new holder of the connection; a tab that unsubscribes its pattern stops getting them, the others go on`, async () => {
      const hub = await startHerald();
      const proxy = await FlakyProxy.start(hub.url, pageDir);
      const errors: string[] = [];
      let pages: Page[] = [];
      try {
        // Published before the tabs subscribe: none of theirs.
        await hub.herald.publish("orders:1", "tick", {}, { tags: { desk: "north" } });
        await hub.herald.publish("orders:2", "tick", {}, { tags: { desk: "south" } });
        const opened = await patternTabs(mode, proxy, errors);
        const { first } = opened;
        pages = opened.pages;
        const log = new PatternLog(hub, opened.tabs);

        // The tab on orders:1 subscribes while its events flow: the pattern tabs lose none of them
        // meanwhile, and the new tab gets every one from some offset on.
        let flowing = true;
        const flow = (async () => {
          while (flowing) {
            await log.publish("orders:1", "north");
            // A steady trickle, not a flood.
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
        const named = await opened.openNamed();
        await log.publish("orders:1", "north");
        flowing = false;
        await flow;
        await log.settled();
        const last = log.expected.pattern.at(-1)!;
        await named.waitForFunction((last) => document.getElementById("events")!.textContent!.endsWith(last), last, { timeout: WAIT_MS });
        const got = ((await named.locator("#events").textContent()) ?? "").split(",");
        assert.deepEqual(got, log.expected.pattern.slice(-got.length), "the tab on orders:1 got every event of it from its first on");
        log.listen("named", named, got);
        const tabs = { ...opened.tabs, named };
        // One connection; the status counts the channels held by name (a pattern's, once they match).
        await untilStatus(hub, { connections: 1, subscriptions: 3 });
        // orders:3 is new on the first round: a channel that starts matching after the subscribe.
        const round = async (): Promise<void> => {
          await log.publish("orders:1", "north");
          await log.publish("orders:2", "south");
          await log.publish("orders:3", "north");
          await log.publish("orders:2", "north");
          await log.publish("orders:1", "south");
          await log.publish("orders:3", "south");
        };
        await round();
        await log.settled();

        // The network drops under the holder while events are published: every tab recovers them.
        proxy.fail();
        for (const page of pages) await waitForText(page, "state", "reconnecting");
        await round();
        proxy.restore();
        for (const page of pages) await waitForText(page, "state", "connected");
        await round();
        await log.settled();

        // A new holder, which has forwarded nothing yet, while WebSockets are refused, so that the
        // events published meanwhile can come only from history, channel by channel.
        proxy.refuseWebSocket = true;
        if (mode === "leader tab") {
          await first.close();
          pages = pages.filter((page) => page !== first);
        } else {
          const cdp = await chromium.browser.newCDPSession(first);
          const { targetInfos } = (await cdp.send("Target.getTargets")) as { targetInfos: Array<{ targetId: string; type: string }> };
          const workers = targetInfos.filter((target) => target.type === "shared_worker");
          assert.equal(workers.length, 1);
          await cdp.send("Target.closeTarget", { targetId: workers[0]!.targetId });
          await cdp.detach();
        }
        for (const page of pages) await waitForText(page, "state", "reconnecting");
        await round();
        proxy.refuseWebSocket = false;
        for (const page of pages) await waitForText(page, "state", "connected");
        await round();
        await log.settled();
        assert.ok((proxy.seen.get("/api/history") ?? 0) >= 1, "the new holder read what the tabs missed from history");

        // One pattern tab lets go: the other, filtered, and the channel by name go on. The marker,
        // published last on a channel the tab still holds, shows that nothing else came before it.
        await tabs.pattern.evaluate(() => (globalThis as unknown as { subscription: { unsubscribe(): void } }).subscription.unsubscribe());
        await waitForText(tabs.pattern, "subscription", "unsubscribed");
        log.listening.delete("pattern");
        await round();
        await hub.herald.publish("user:marker", "tick", {});
        await waitForText(tabs.pattern, "extra-events", "user:marker@1");
        await log.settled();
        assert.deepEqual(((await tabs.pattern.locator("#events").textContent()) ?? "").split(",").sort(), [...log.expected.pattern].sort());
        for (const tab of Object.values(tabs)) assert.equal(await tab.locator("#recovery-failed").textContent(), "0");
        assert.deepEqual(errors, []);
      } finally {
        for (const page of pages) await page.close();
        await proxy.close();
        await hub.close();
      }
    });

    it(`${mode}: patterns after the server lost its history (a restart): each tab hears recovery_failed once for every channel it had, then gets the new streams' events`, async () => {
      let hub = await startHerald();
      const proxy = await FlakyProxy.start(hub.url, pageDir);
      const errors: string[] = [];
      let pages: Page[] = [];
      try {
        const opened = await patternTabs(mode, proxy, errors);
        pages = opened.pages;
        const tabs = { ...opened.tabs, named: await opened.openNamed() };
        const log = new PatternLog(hub, tabs);
        await log.publish("orders:1", "north");
        await log.publish("orders:2", "south");
        await log.publish("orders:2", "north");
        await log.publish("orders:3", "north");
        await log.settled();

        // The memory engine's history goes with the server: the one behind the proxy is a new one.
        proxy.fail();
        for (const page of pages) await waitForText(page, "state", "reconnecting");
        await hub.close();
        hub = log.hub = await startHerald();
        proxy.target = hub.url;
        proxy.restore();
        for (const page of pages) await waitForText(page, "state", "connected");
        // orders:1 by name; each pattern tab had events of orders:1, orders:2 and orders:3.
        await waitForText(tabs.named, "recovery-failed", "1");
        await waitForText(tabs.pattern, "recovery-failed", "3");
        await waitForText(tabs.filtered, "recovery-failed", "3");

        // The new streams start again at offset 1, in new epochs: not taken for events seen already.
        await log.publish("orders:1", "north");
        await log.publish("orders:2", "north");
        await log.publish("orders:4", "south");
        await log.settled(false);
        assert.equal(await tabs.pattern.locator("#recovery-failed").textContent(), "3");
        assert.deepEqual(errors, []);
      } finally {
        for (const page of pages) await page.close();
        await proxy.close();
        await hub.close();
      }
    });
  }

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
