/**
 * `subscribe(channel, { filter })` through the SDK: only matching events reach the handlers, on
 * every transport, and after the network fails while events of both kinds are published, the
 * resubscribe (with its `since` and the same filter) brings exactly the matching ones missed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald } from "../../server/test/support/herald.js";
import { Herald, HeraldError, type SubscriptionErrorContext, type TransportName } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { connectSubscribed, dropAndResubscribe, until } from "./support/wait.js";

type Orders = { order: { n: number } };

for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
  describe(`tag filters over ${transport}`, () => {
    it("delivers only matching events, and recovers exactly the matching ones missed while away", async () => {
      const hub = await startHerald();
      const proxy = await FlakyProxy.start(hub.url);
      const client = new Herald({ url: proxy.url, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 2_000 });
      try {
        const received: number[] = [];
        const subscription = client.subscribe<Orders>("orders:desk", { filter: "symbol in (BTC, ETH) and kind=fill" });
        let wanted = 0;
        let arrived: { poke: () => void } = { poke: () => {} };
        subscription.on("order", (data, frame) => {
          assert.equal(frame.tags?.kind, "fill");
          received.push(data.n);
          arrived.poke();
        });
        const waitFor = async (count: number): Promise<void> => {
          const all = until(() => received.length >= count, `${count} matching events`);
          arrived = all;
          await all.done;
        };
        const subscribed = await connectSubscribed(client, subscription);

        let n = 0;
        const publish = async (tags: Record<string, string>, matches: boolean): Promise<void> => {
          await hub.herald.publish("orders:desk", "order", { n: ++n }, { tags });
          if (matches) wanted += 1;
        };
        const batch = async (): Promise<void> => {
          await publish({ symbol: "BTC", kind: "fill" }, true);
          await publish({ symbol: "SOL", kind: "fill" }, false);
          await publish({ symbol: "ETH", kind: "cancel" }, false);
          await publish({ symbol: "ETH", kind: "fill" }, true);
          await publish({ kind: "fill" }, false);
        };
        await batch();
        await waitFor(wanted);

        // Published while the client is away, ending with ones the filter drops.
        await dropAndResubscribe(client, proxy, subscribed, batch);
        await publish({ symbol: "BTC", kind: "fill" }, true);
        await waitFor(wanted);
        assert.deepEqual(received, [1, 4, 6, 9, 11]);
        assert.deepEqual(subscribed.contexts.map((context) => context.recovered), [false, true]);

        // Away again while only events the filter drops are published: still no gap.
        await dropAndResubscribe(client, proxy, subscribed, async () => {
          await publish({ symbol: "SOL", kind: "fill" }, false);
          await publish({ symbol: "BTC", kind: "cancel" }, false);
        });
        await publish({ symbol: "ETH", kind: "fill" }, true);
        await waitFor(wanted);
        assert.deepEqual(received, [1, 4, 6, 9, 11, 14]);
        assert.deepEqual(subscribed.contexts.map((context) => context.recovered), [false, true, true]);
      } finally {
        client.disconnect();
        await proxy.close();
        await hub.close();
      }
    });
  });
}

describe("tag filters in the SDK", () => {
  it("fails the subscription with invalid_filter and the server's message; a second filter on a held channel is refused", async () => {
    const hub = await startHerald();
    const client = new Herald({ url: hub.url, transports: ["websocket"], WebSocket });
    try {
      client.connect();
      const bad = client.subscribe("orders:bad", { filter: "symbol in (BTC" });
      const errors: SubscriptionErrorContext[] = [];
      const failed = until(() => bad.state.status === "failed", "the subscription to fail");
      bad.on("error", (error) => {
        errors.push(error);
        failed.poke();
      });
      await failed.done;
      assert.equal(errors[0]!.code, "invalid_filter");
      assert.match(errors[0]!.message, /expected "," or "\)" at position 15/);

      const held = client.subscribe("orders:held", { filter: "kind=fill" });
      assert.throws(() => client.subscribe("orders:held", { filter: "kind=cancel" }), (error: unknown) => error instanceof HeraldError && error.code === "filter_conflict");
      assert.throws(() => client.subscribe("orders:held"), (error: unknown) => error instanceof HeraldError && error.code === "filter_conflict");
      const same = client.subscribe("orders:held", { filter: "kind=fill" });
      same.unsubscribe();
      held.unsubscribe();
      // Once its handles are gone, the channel may be taken with another filter.
      const other = client.subscribe("orders:held", { filter: "kind=cancel" });
      const ready = until(() => other.state.status === "subscribed", "the new filter's subscription");
      other.on("subscribed", ready.poke);
      await ready.done;
      const kinds: string[] = [];
      const cancel = until(() => kinds.length === 1, "the cancel");
      other.on("order", (_data, frame) => {
        kinds.push(frame.tags!.kind!);
        cancel.poke();
      });
      await hub.herald.publish("orders:held", "order", { n: 1 }, { tags: { kind: "fill" } });
      await hub.herald.publish("orders:held", "order", { n: 2 }, { tags: { kind: "cancel" } });
      await cancel.done;
      assert.deepEqual(kinds, ["cancel"]);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });
});
