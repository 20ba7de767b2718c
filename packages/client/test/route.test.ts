/**
 * The SDK on a route's URL (a seed's WebSocket path): the route subscribes the connection to its
 * channel by itself, and the SDK's own subscribe to that channel takes the subscription over, so
 * that a page may use @herald/client against the URL its seed client uses and still resume.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { loadConfig } from "@herald/server";
import { startHerald } from "../../server/test/support/herald.js";
import { Herald } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { connectSubscribed, dropAndResubscribe, until } from "./support/wait.js";

const bridgeConfig = loadConfig({ file: fileURLToPath(new URL("../../../examples/bridge-status/herald.yaml", import.meta.url)), env: {} });
const ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7";
const CHANNEL = `user:${ADDRESS}`;

describe("the SDK on a route's URL", () => {
  it("adopts the route's subscription: every event once and in order, across network failures", async () => {
    const hub = await startHerald({ routes: bridgeConfig.routes, namespaces: bridgeConfig.namespaces });
    const proxy = await FlakyProxy.start(hub.url);
    const client = new Herald({ url: proxy.url, wsPath: `/api/ws/${ADDRESS}`, transports: ["websocket"], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 } });
    try {
      let n = 0;
      const publish = (count: number) => Promise.all(Array.from({ length: count }, () => hub.herald.publish(CHANNEL, "cas_deposit_update", { n: ++n })));
      // Events before the page loads are not the page's: it starts where its connection did.
      await publish(3);
      const offsets: number[] = [];
      const subscription = client.subscribe<{ cas_deposit_update: { n: number } }>(CHANNEL);
      const total = 3 + 30;
      const all = until(() => offsets.length >= total - 3, `${total - 3} events`);
      subscription.on("cas_deposit_update", (data, frame) => {
        assert.equal(data.n, frame.offset);
        offsets.push(frame.offset);
        all.poke();
      });
      const subscribed = await connectSubscribed(client, subscription);
      await publish(10);
      for (let cut = 0; cut < 2; cut++) {
        // Published while the page is away: the route alone would start after them.
        await dropAndResubscribe(client, proxy, subscribed, () => publish(5));
        // Published while the route's subscription and the SDK's meet.
        await publish(5);
      }
      await all.done;
      assert.deepEqual(offsets, Array.from({ length: total - 3 }, (_, i) => i + 4));
      assert.deepEqual(subscribed.contexts.map((context) => context.recovered), [false, true, true]);
      assert.equal(subscription.state.status, "subscribed");
    } finally {
      client.disconnect();
      await proxy.close();
      await hub.close();
    }
  });
});
