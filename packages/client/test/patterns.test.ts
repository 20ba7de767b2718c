/**
 * A pattern subscription through the SDK, on every transport: handlers get each event with its
 * real channel, and after the network fails, every matched channel resumes from its own position
 * (the client sends them as `positions`, or in the cursor), with nothing missed or repeated.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald } from "../../server/test/support/herald.js";
import { waitUntil } from "../../server/test/support/deadline.js";
import { Herald, type SubscribedContext, type TransportName } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { until, waitForState } from "./support/wait.js";

for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
  describe(`pattern subscription over ${transport}`, () => {
    it("delivers each matching channel with its name, and recovers every one of them after a reconnect", async () => {
      const hub = await startHerald();
      const proxy = await FlakyProxy.start(hub.url);
      const client = new Herald({ url: proxy.url, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 2_000 });
      try {
        const received: Array<[string, number]> = [];
        const subscribed: SubscribedContext[] = [];
        const subscription = client.subscribe<{ order: { n: number } }>("orders:*");
        let check = (): void => {};
        subscription.on("order", (data, frame) => {
          assert.equal(data.n, frame.offset);
          received.push([frame.channel, frame.offset]);
          check();
        });
        subscription.on("subscribed", (context) => {
          subscribed.push(context);
          check();
        });
        const wait = async (condition: () => boolean, what: string): Promise<void> => {
          const waiter = until(condition, what);
          check = waiter.poke;
          await waiter.done;
        };
        // A poll learns of a new channel while it waits: publish a channel's first event then.
        const pollWaits = async (): Promise<void> => {
          if (transport === "polling") await waitUntil("a long-poll to wait", () => hub.herald.hub.counts().byTransport.polling > 0);
        };
        client.connect();
        await wait(() => subscribed.length === 1, "subscribed");
        assert.equal(subscribed[0]!.channel, "orders:*");
        await pollWaits();
        await hub.herald.publish("orders:a", "order", { n: 1 });
        await wait(() => received.length === 1, "orders:a's first event");
        await pollWaits();
        await hub.herald.publish("orders:b", "order", { n: 1 });
        await wait(() => received.length === 2, "orders:b's first event");

        const reconnecting = waitForState(client, "reconnecting");
        proxy.fail();
        await reconnecting;
        // Published while the client is away: only per-channel recovery can bring these.
        await hub.herald.publish("orders:a", "order", { n: 2 });
        await hub.herald.publish("orders:b", "order", { n: 2 });
        await hub.herald.publish("orders:a", "order", { n: 3 });
        proxy.restore();
        await wait(() => received.length === 5, "the 3 missed events");
        await hub.herald.publish("orders:b", "order", { n: 3 });
        await wait(() => received.length === 6, "a live event after the recovery");
        const of = (channel: string) => received.filter(([name]) => name === channel).map(([, offset]) => offset);
        assert.deepEqual(of("orders:a"), [1, 2, 3]);
        assert.deepEqual(of("orders:b"), [1, 2, 3]);
      } finally {
        client.disconnect();
        await proxy.close();
        await hub.close();
      }
    });
  });
}
