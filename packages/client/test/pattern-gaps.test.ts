/**
 * A pattern subscription through the SDK does not miss a channel that starts matching while the
 * client is away: the SDK sends the `time` of its last `subscribed` back as `after`, and the server
 * delivers the channels published since then that it did not know, from their first event. After
 * a plain network drop (memory engine), and after its node stops (SIGTERM) and it comes back on
 * another node of the same Redis. Another user's personal channel under `user:*` never reaches
 * the client, not even on the wire.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { startNodeProcess, type NodeProcess } from "../../server/test/support/node-process.js";
import { deleteKeys, REDIS_URL, redisSkip, uniquePrefix } from "../../server/test/support/redis.js";
import { SECRET, hs256 } from "../../server/test/security/attack-support.js";
import { Herald } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { until, waitForState } from "./support/wait.js";
import { waitUntil } from "../../server/test/support/deadline.js";

const redisSkipped = await redisSkip();
const NAMESPACES = { user: { personal: true }, orders: { subscribe: "public" as const } };

/** An SDK client of user `user` through `proxy`, following `orders:*-<run>` and `user:*`: what its handlers got, and every frame on its wire. */
async function follower(proxy: FlakyProxy, user: string, run: string, transport: "websocket" | "sse" | "polling" = "websocket") {
  const wire: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on("message", (data) => wire.push(String(data)));
    }
  }
  // Over SSE and polling the server-side tests watch the wire; here, what the handlers get.
  const client = new Herald({ url: proxy.url, token: await hs256({ sub: user }, { expiresIn: "1h" }), transports: [transport], WebSocket: RecordingWebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 1_000 });
  const received: Array<[string, number]> = [];
  let poke = (): void => {};
  const subscriptions = [`orders:*-${run}`, "user:*"].map((pattern) => {
    const subscription = client.subscribe<{ order: unknown; note: unknown }>(pattern);
    subscription.onEvent((frame) => {
      received.push([frame.channel, frame.offset]);
      poke();
    });
    return subscription;
  });
  const subscribed = () => waitUntil("both patterns subscribed", () => subscriptions.every((subscription) => subscription.state.status === "subscribed"));
  const wait = async (count: number, what: string): Promise<void> => {
    const waiter = until(() => received.length >= count, what);
    poke = waiter.poke;
    await waiter.done;
  };
  const of = (channel: string): number[] => received.filter(([name]) => name === channel).map(([, offset]) => offset);
  return { client, received, wire, wait, of, subscribed };
}

/**
 * What is published while the client is away: a known channel's next event, and the first events of
 * a new channel, of the client's own personal channel and of another user's.
 */
async function publishWhileAway(publish: (channel: string, n: number) => Promise<unknown>, run: string): Promise<void> {
  for (const [channel, n] of [[`orders:a-${run}`, 2], [`orders:b-${run}`, 1], [`user:43-${run}`, 1], [`user:42-${run}`, 1], [`orders:b-${run}`, 2]] as const) await publish(channel, n);
}

describe("pattern subscription over the SDK: a channel that starts matching while the client is away", () => {
  for (const transport of ["websocket", "sse", "polling"] as const) {
    it(`memory engine, ${transport}, a network drop: the new channels come after the reconnect, from their first event`, async () => {
      const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, namespaces: NAMESPACES });
      const proxy = await FlakyProxy.start(hub.url);
      const run = randomBytes(4).toString("hex");
      const { client, received, wire, wait, of, subscribed } = await follower(proxy, `42-${run}`, run, transport);
      const publish = (channel: string, n: number) => hub.herald.publish(channel, channel.startsWith("user:") ? "note" : "order", { n });
      try {
        client.connect();
        await subscribed();
        await publish(`orders:a-${run}`, 1);
        await wait(1, "orders:a's first event");

        const reconnecting = waitForState(client, "reconnecting");
        proxy.fail();
        await reconnecting;
        await publishWhileAway(publish, run);
        proxy.restore();
        await wait(5, "the missed events");
        await publish(`orders:b-${run}`, 3);
        await wait(6, "a live event");
        assert.deepEqual(of(`orders:a-${run}`), [1, 2]);
        assert.deepEqual(of(`orders:b-${run}`), [1, 2, 3]);
        assert.deepEqual(of(`user:42-${run}`), [1]);
        assert.equal(received.length, 6);
        assert.equal(received.some(([channel]) => channel === `user:43-${run}`), false);
        // Over WebSocket the test sees the wire too: not a byte of the other user's channel.
        assert.equal(wire.some((text) => text.includes(`user:43-${run}`)), false);
      } finally {
        client.disconnect();
        await proxy.close();
        await hub.close();
      }
    });
  }

  describe("two nodes on Redis, the client's node stopped with SIGTERM", { skip: redisSkipped }, () => {
    const prefix = uniquePrefix("pattern-sdk");
    const dir = mkdtempSync(join(tmpdir(), "herald-pattern-gaps-"));
    const cleanup: Array<() => Promise<void>> = [];
    after(async () => {
      for (const step of cleanup.reverse()) await step();
      await deleteKeys(prefix);
      rmSync(dir, { recursive: true, force: true });
    });

    it("comes back on the other node and gets the channels published meanwhile, from their first event", async () => {
      const config = { engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix, patterns: true }, auth: { jwt: { secret: SECRET } }, namespaces: NAMESPACES };
      const configFile = join(dir, "herald.json");
      writeFileSync(configFile, JSON.stringify(config));
      const stopped: NodeProcess = await startNodeProcess("stopped", {}, 30_000, ["--config", configFile]);
      cleanup.push(() => stopped.kill("SIGKILL"));
      const other: RunningHerald = await startHerald(config);
      cleanup.push(() => other.close());
      const proxy = await FlakyProxy.start(stopped.url);
      cleanup.push(() => proxy.close());
      const run = randomBytes(4).toString("hex");
      const { client, received, wire, wait, of } = await follower(proxy, `42-${run}`, run);
      cleanup.push(async () => client.disconnect());
      const publish = (channel: string, n: number) => other.herald.publish(channel, channel.startsWith("user:") ? "note" : "order", { n });

      client.connect();
      await waitUntil("both subscribed", () => wire.filter((text) => text.includes('"subscribed"')).length === 2);
      await publish(`orders:a-${run}`, 1);
      await wait(1, "orders:a's first event");

      // Nowhere to reconnect to until the events below are published.
      proxy.down = true;
      const reconnecting = waitForState(client, "reconnecting");
      await stopped.kill("SIGTERM");
      await reconnecting;
      await publishWhileAway(publish, run);
      proxy.target = other.url;
      proxy.down = false;
      await wait(5, "the missed events");
      await publish(`orders:b-${run}`, 3);
      await publish(`user:42-${run}`, 2);
      await wait(7, "live events");
      assert.deepEqual(of(`orders:a-${run}`), [1, 2]);
      assert.deepEqual(of(`orders:b-${run}`), [1, 2, 3]);
      assert.deepEqual(of(`user:42-${run}`), [1, 2]);
      assert.equal(received.length, 7);
      assert.equal(wire.some((text) => text.includes(`user:43-${run}`)), false);
      // The resubscribe named its time: the server found orders:b and user:42 through it.
      assert.ok(wire.some((text) => text.includes('"subscribed"') && text.includes(`orders:b-${run}`)));
    });
  });
});
