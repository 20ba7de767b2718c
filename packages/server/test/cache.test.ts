/**
 * Namespaces with `cache: true`: a subscriber that brings no position first gets the channel's
 * latest retained event (`cache: "hit"`), or `cache: "miss"` when there is none, on every
 * transport and with the memory and the Redis engine.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { getJson, startHerald, TestClient, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { deleteKeys, REDIS_URL, redisSkip, uniquePrefix } from "./support/redis.js";

const engines = [
  { name: "memory", skip: false as false | string, engine: () => ({}) },
  { name: "redis", skip: await redisSkip(), engine: (prefix: string) => ({ engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix } }) },
];

for (const { name, skip, engine } of engines) {
  describe(`cache: true namespaces (${name} engine)`, { skip }, () => {
    let hub: RunningHerald;
    const prefix = uniquePrefix("cache");
    before(async () => {
      hub = await startHerald({ ...engine(prefix), namespaces: { price: { cache: true }, plain: {} } });
    });
    after(async () => {
      await hub.close();
      if (name === "redis") await deleteKeys(prefix);
    });

    it("WebSocket: a late subscriber gets the latest value before any new event", async () => {
      for (let n = 1; n <= 3; n++) await hub.herald.publish("price:ws", "tick", { n });
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      client.send({ type: "subscribe", id: 1, channel: "price:ws" });
      const subscribed = await client.next("subscribed");
      assert.equal(subscribed.cache, "hit");
      assert.equal(subscribed.recovered, false);
      assert.equal(subscribed.offset, 3);
      await hub.herald.publish("price:ws", "tick", { n: 4 });
      const first = await client.next("tick");
      const second = await client.next("tick");
      assert.deepEqual([first.data, first.offset, second.data, second.offset], [{ n: 3 }, 3, { n: 4 }, 4]);
      client.socket.close();
    });

    it("WebSocket: a channel with nothing retained answers cache: miss, then live events", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      client.send({ type: "subscribe", id: 1, channel: "price:empty" });
      const subscribed = await client.next("subscribed");
      assert.equal(subscribed.cache, "miss");
      await hub.herald.publish("price:empty", "tick", { n: 1 });
      assert.deepEqual((await client.next("tick")).data, { n: 1 });
      client.socket.close();
    });

    it("WebSocket: with since, or outside a cache namespace, nothing changes", async () => {
      await hub.herald.publish("plain:ws", "tick", { n: 1 });
      await hub.herald.publish("price:since", "tick", { n: 1 });
      const second = await hub.herald.publish("price:since", "tick", { n: 2 });
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      client.send({ type: "subscribe", id: 1, channel: "plain:ws" });
      client.send({ type: "subscribe", id: 2, channel: "price:since", since: { epoch: second.epoch, offset: 2 } });
      const plain = await client.next((frame) => frame.type === "subscribed" && frame.channel === "plain:ws");
      const since = await client.next((frame) => frame.type === "subscribed" && frame.channel === "price:since");
      assert.equal("cache" in plain, false);
      assert.equal("cache" in since, false);
      assert.equal(since.recovered, true);
      await hub.herald.publish("plain:ws", "tick", { n: 2 });
      await hub.herald.publish("price:since", "tick", { n: 3 });
      const ticks = [await client.next("tick"), await client.next("tick")];
      assert.deepEqual(ticks.map((frame) => [frame.channel, frame.data]).sort(), [["plain:ws", { n: 2 }], ["price:since", { n: 3 }]]);
      client.socket.close();
    });

    it("SSE: a late subscriber gets the latest value before any new event", async () => {
      for (let n = 1; n <= 3; n++) await hub.herald.publish("price:sse", "tick", { n });
      const stream = await SseReader.open(`${hub.url}/sse?channel=price:sse&channel=price:sse-empty`);
      const subscribed = await stream.waitFor("subscribed", 2);
      assert.deepEqual(subscribed.map((record) => [record.data.channel, record.data.cache]).sort(), [["price:sse", "hit"], ["price:sse-empty", "miss"]]);
      await hub.herald.publish("price:sse", "tick", { n: 4 });
      const ticks = await stream.waitFor("tick", 2);
      assert.deepEqual(ticks.map((record) => record.data.data), [{ n: 3 }, { n: 4 }]);
      stream.close();
    });

    it("polling: an answer without a cursor says which channels' latest event it holds", async () => {
      for (let n = 1; n <= 3; n++) await hub.herald.publish("price:poll", "tick", { n });
      await hub.herald.publish("plain:poll", "tick", { n: 1 });
      const first = await getJson(`${hub.url}/api/updates?channel=price:poll&channel=price:poll-empty&channel=plain:poll`);
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.cache, { "price:poll": "hit", "price:poll-empty": "miss" });
      const latest = first.body.updates.filter((update: { channel: string }) => update.channel === "price:poll").at(-1);
      assert.deepEqual([latest.data, latest.offset], [{ n: 3 }, 3]);
      const next = await getJson(`${hub.url}/api/updates?channel=price:poll&channel=price:poll-empty&channel=plain:poll&since=${first.body.cursor}`);
      assert.equal("cache" in next.body, false);
    });
  });
}
