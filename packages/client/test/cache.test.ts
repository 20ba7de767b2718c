import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { Herald, type SubscribedContext, type TransportName } from "../src/index.js";
import { until } from "./support/wait.js";

type Ticks = { tick: { n: number } };

describe("cache: true namespaces through @herald/client", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { price: { cache: true } } });
  });
  after(() => hub.close());

  for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
    it(`${transport}: a late subscriber has the latest value before any new event, then live events`, async () => {
      const channel = `price:${transport}`;
      for (let n = 1; n <= 3; n++) await hub.herald.publish(channel, "tick", { n });
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket, pollTimeout: 2_000 });
      try {
        const seen: number[] = [];
        let subscribed: SubscribedContext | undefined;
        const subscription = client.subscribe<Ticks>(channel);
        const first = until(() => seen.length >= 1 && subscribed !== undefined, "the cached event");
        subscription.on("subscribed", (context) => {
          subscribed = context;
          first.poke();
        });
        subscription.on("tick", (data) => {
          seen.push(data.n);
          first.poke();
        });
        client.connect();
        await first.done;
        assert.equal(subscribed?.cache, "hit");
        assert.deepEqual(subscription.latest("tick"), { n: 3 });
        assert.deepEqual(seen, [3]);
        const live = until(() => seen.length >= 2, "a live event");
        subscription.on("tick", live.poke);
        await hub.herald.publish(channel, "tick", { n: 4 });
        await live.done;
        assert.deepEqual(seen, [3, 4]);
      } finally {
        client.disconnect();
      }
    });

    it(`${transport}: a channel with nothing retained is subscribed with cache: miss`, async () => {
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket, pollTimeout: 2_000 });
      try {
        let subscribed: SubscribedContext | undefined;
        const subscription = client.subscribe<Ticks>(`price:empty-${transport}`);
        const done = until(() => subscribed !== undefined, "subscribed");
        subscription.on("subscribed", (context) => {
          subscribed = context;
          done.poke();
        });
        client.connect();
        await done.done;
        assert.equal(subscribed?.cache, "miss");
        assert.equal(subscription.latest("tick"), undefined);
      } finally {
        client.disconnect();
      }
    });
  }
});
