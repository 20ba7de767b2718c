/**
 * Tags on publishes and tag filters on subscriptions, as a user sees them: only matching events
 * reach a filtered subscriber (WebSocket, SSE, polling), events keep their tags in frames and
 * history, bad filters and tags are refused with their codes, and recovery across a gap full of
 * filtered-out events is exact. With the memory and the Redis engine.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeCursor } from "@herald/protocol";
import { getJson, postJson, startHerald, TestClient, type Frame, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { deleteKeys, REDIS_URL, redisSkip, uniquePrefix } from "./support/redis.js";

const engines = [
  { name: "memory", skip: false as false | string, engine: () => ({}) },
  { name: "redis", skip: await redisSkip(), engine: (prefix: string) => ({ engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix } }) },
];

const BTC_FILL = { symbol: "BTC", kind: "fill" };
const ETH_FILL = { symbol: "ETH", kind: "fill" };
const BTC_CANCEL = { symbol: "BTC", kind: "cancel" };

const q = encodeURIComponent;

for (const { name, skip, engine } of engines) {
  describe(`tag filters (${name} engine)`, { skip }, () => {
    let hub: RunningHerald;
    const prefix = uniquePrefix("tags");
    before(async () => {
      hub = await startHerald({ ...engine(prefix), namespaces: { chat: { clientPublish: true } } });
    });
    after(async () => {
      await hub.close();
      if (name === "redis") await deleteKeys(prefix);
    });

    /** Publishes over HTTP, as a backend does. */
    async function publish(channel: string, n: number, tags?: Record<string, string>): Promise<{ epoch: string; offset: number }> {
      const answer = await postJson(`${hub.url}/api/publish`, { channel, type: "order", data: { n }, ...(tags ? { tags } : {}) });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.published[0];
    }

    it("WebSocket: only events whose tags pass the filter are sent, with their tags; untagged frames have no tags key", async () => {
      const ch = "orders:ws";
      const filtered = await TestClient.open(`${hub.wsUrl}/ws`);
      const everything = await TestClient.open(`${hub.wsUrl}/ws`);
      assert.equal((await filtered.subscribe(ch, { id: 1, filter: "symbol=BTC and kind in (fill, partial)" })).type, "subscribed");
      assert.equal((await everything.subscribe(ch, { id: 1 })).type, "subscribed");
      await publish(ch, 1, ETH_FILL);
      await publish(ch, 2, BTC_FILL);
      await publish(ch, 3, BTC_CANCEL);
      await publish(ch, 4);
      await publish(ch, 5, BTC_FILL);
      const all = await everything.take(5, "order");
      assert.deepEqual(all.map((frame) => frame.tags), [ETH_FILL, BTC_FILL, BTC_CANCEL, undefined, BTC_FILL]);
      assert.equal("tags" in all[3]!, false);
      // Event 5 is the last one published: once it is in, every earlier event has passed the filter or not.
      const last = await filtered.next((frame) => frame.type === "order" && frame.offset === 5);
      const received = filtered.frames.filter((frame) => frame.type === "order");
      assert.deepEqual(received.map((frame) => [frame.offset, frame.data, frame.tags]), [[2, { n: 2 }, BTC_FILL], [5, { n: 5 }, BTC_FILL]]);
      assert.equal(last.channel, ch);
      await Promise.all([filtered.close(), everything.close()]);
    });

    it("WebSocket: a bad filter is an error frame naming the position, and leaves no subscription", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const table: Array<[unknown, RegExp]> = [
        ["symbol=", /expected a value at position 8/],
        ["symbol in BTC", /expected "\(" after "in" at position 11/],
        ["(kind=fill", /expected "and", "or" or "\)" at position 11/],
        ["kind=fill; drop", /unexpected character ";" at position 10/],
        ["", /filter is empty/],
        [42, /subscribe\.filter must be a string/],
      ];
      let id = 0;
      for (const [filter, message] of table) {
        client.send({ type: "subscribe", id: ++id, channel: "orders:bad", filter });
        const error = await client.next((frame) => frame.id === id);
        assert.equal(error.type, "error", JSON.stringify(error));
        assert.equal(error.code, "invalid_filter");
        assert.match(String(error.message), message);
      }
      // Nothing was left behind: the same channel subscribes with a good filter.
      const ok = await client.subscribe("orders:bad", { id: "ok", filter: "kind=fill" });
      assert.equal(ok.type, "subscribed");
      await client.close();
    });

    it("recovery across a gap full of filtered-out events gets exactly the matching ones, recovered: true", async () => {
      const ch = "orders:recovery";
      const filter = "kind=fill or kind=cancel and symbol=ETH";
      const first = await TestClient.open(`${hub.wsUrl}/ws`);
      await first.subscribe(ch, { id: 1, filter });
      const seen = await publish(ch, 1, BTC_FILL);
      const delivered = await first.next("order");
      assert.equal(delivered.offset, seen.offset);
      await first.close();

      // While the client is away: events of both kinds, ending with ones the filter drops.
      await publish(ch, 2, BTC_CANCEL);
      await publish(ch, 3, ETH_FILL);
      await publish(ch, 4);
      await publish(ch, 5, { kind: "cancel", symbol: "ETH" });
      await publish(ch, 6, BTC_CANCEL);
      await publish(ch, 7, { symbol: "ETH" });

      const back = await TestClient.open(`${hub.wsUrl}/ws`);
      const subscribed = await back.subscribe(ch, { id: 2, filter, since: { epoch: seen.epoch, offset: seen.offset } });
      assert.equal(subscribed.type, "subscribed");
      assert.equal(subscribed.recovered, true);
      assert.equal(subscribed.offset, 7);
      await publish(ch, 8, BTC_CANCEL);
      await publish(ch, 9, ETH_FILL);
      await back.next((frame) => frame.type === "order" && frame.offset === 9);
      const orders = back.frames.filter((frame) => frame.type === "order");
      assert.deepEqual(orders.map((frame) => frame.offset), [3, 5, 9]);
      await back.close();

      // The position a client stores is its last delivered event; coming back from there (with
      // dropped events after it) is still exact, and nothing after the head follows.
      const again = await TestClient.open(`${hub.wsUrl}/ws`);
      const resumed = await again.subscribe(ch, { id: 3, filter, since: { epoch: seen.epoch, offset: 5 } });
      assert.equal(resumed.recovered, true);
      await publish(ch, 10, ETH_FILL);
      await again.next((frame) => frame.type === "order" && frame.offset === 10);
      assert.deepEqual(again.frames.filter((frame) => frame.type === "order").map((frame) => frame.offset), [9, 10]);
      await again.close();
    });

    it("WebSocket publish frames carry tags (refused with invalid_tags when wrong), and filters match them", async () => {
      const ch = "chat:room";
      const reader = await TestClient.open(`${hub.wsUrl}/ws`);
      await reader.subscribe(ch, { id: 1, filter: "lang=en" });
      const writer = await TestClient.open(`${hub.wsUrl}/ws`);
      writer.send({ type: "publish", id: "bad", channel: ch, event: "message", data: "x", tags: { lang: 1 } });
      const refused = await writer.next((frame) => frame.id === "bad");
      assert.deepEqual([refused.type, refused.code, refused.message], ["error", "invalid_tags", "publish.tags.lang must be a string"]);
      writer.send({ type: "publish", id: "fr", channel: ch, event: "message", data: "bonjour", tags: { lang: "fr" } });
      writer.send({ type: "publish", id: "en", channel: ch, event: "message", data: "hello", tags: { lang: "en" } });
      await writer.next((frame) => frame.id === "en");
      const message = await reader.next("message");
      assert.deepEqual([message.data, message.tags], ["hello", { lang: "en" }]);
      assert.equal(reader.frames.filter((frame) => frame.type === "message").length, 1);
      await Promise.all([reader.close(), writer.close()]);
    });

    it("POST /api/publish: tags on single, channels and batch forms are stored; a bad one refuses the whole batch", async () => {
      const ch = "orders:http";
      const bad: Array<[unknown, RegExp]> = [
        [{ channel: ch, type: "order", data: null, tags: ["BTC"] }, /^body\.tags must be an object/],
        [{ channels: [ch], type: "order", data: null, tags: { symbol: 1 } }, /^body\.tags\.symbol must be a string/],
        [{ events: [{ channel: ch, type: "order", data: 1, tags: BTC_FILL }, { channel: ch, type: "order", data: 2, tags: { "no spaces": "x" } }] }, /^events\[1\]\.tag key "no spaces" may contain only/],
      ];
      for (const [body, message] of bad) {
        const answer = await postJson(`${hub.url}/api/publish`, body);
        assert.equal(answer.status, 400);
        assert.equal(answer.body.error.code, "invalid_tags");
        assert.match(answer.body.error.message, message);
      }
      const none = await getJson(`${hub.url}/api/history?channel=${ch}`);
      assert.deepEqual(none.body.events, [], "nothing of a refused batch is stored");
      const ok = await postJson(`${hub.url}/api/publish`, { events: [{ channel: ch, type: "order", data: 1, tags: BTC_FILL }, { channels: [ch], type: "order", data: 2, tags: {} }] });
      assert.equal(ok.status, 200);
      await hub.herald.publish(ch, "order", 3, { tags: ETH_FILL });
      await assert.rejects(hub.herald.publish(ch, "order", 4, { tags: { symbol: "x".repeat(300) } }), { code: "invalid_tags" });
      const history = await getJson(`${hub.url}/api/history?channel=${ch}`);
      // An empty tags object is no tags at all.
      assert.deepEqual(history.body.events.map((event: Frame) => [event.data, event.tags]), [[1, BTC_FILL], [2, undefined], [3, ETH_FILL]]);
      assert.equal("tags" in history.body.events[1], false);
    });

    it("SSE: filter for every channel or per channel; filtered events never arrive, and Last-Event-ID resumes through the filter", async () => {
      const a = "orders:sse-a";
      const b = "orders:sse-b";
      const stream = await SseReader.open(`${hub.url}/sse?channel=${a}&channel=${b}&filter=${q("symbol=BTC")}&filter[${q(b)}]=${q("kind=cancel")}`);
      await stream.waitFor("subscribed", 2);
      await publish(a, 1, ETH_FILL);
      await publish(b, 2, BTC_FILL);
      await publish(a, 3, BTC_FILL);
      await publish(b, 4, BTC_CANCEL);
      const orders = await stream.waitFor("order", 2);
      assert.deepEqual(orders.map((record) => [record.data.channel, record.data.data, record.data.tags]), [[a, { n: 3 }, BTC_FILL], [b, { n: 4 }, BTC_CANCEL]]);
      const lastId = orders[1]!.id!;
      stream.close();
      await publish(a, 5, ETH_FILL);
      await publish(a, 6, BTC_CANCEL);
      await publish(b, 7, ETH_FILL);
      await publish(b, 8, { kind: "cancel" });
      const resumed = await SseReader.open(`${hub.url}/sse?channel=${a}&channel=${b}&filter=${q("symbol=BTC")}&filter[${q(b)}]=${q("kind=cancel")}`, { "last-event-id": lastId });
      const subscribed = await resumed.waitFor("subscribed", 2);
      assert.deepEqual(subscribed.map((record) => record.data.recovered), [true, true]);
      await publish(b, 9, BTC_CANCEL);
      const after = await resumed.waitFor("order", 3);
      assert.deepEqual(after.map((record) => record.data.data), [{ n: 6 }, { n: 8 }, { n: 9 }]);
      resumed.close();
    });

    it("SSE: a bad filter is an error record naming the channel; other channels go on", async () => {
      const stream = await SseReader.open(`${hub.url}/sse?channel=orders:sse-ok&channel=orders:sse-bad&filter[orders:sse-bad]=${q("symbol in (BTC")}`);
      const [error] = await stream.waitFor("error");
      assert.equal(error!.data.channel, "orders:sse-bad");
      assert.equal(error!.data.code, "invalid_filter");
      assert.match(String(error!.data.message), /expected "," or "\)" at position 15, found the end of the filter/);
      await publish("orders:sse-ok", 1, BTC_FILL);
      assert.deepEqual((await stream.waitFor("order"))[0]!.data.tags, BTC_FILL);
      stream.close();
      const stray = await getJson(`${hub.url}/sse?channel=orders:sse-ok&filter[orders:other]=kind`);
      assert.deepEqual([stray.status, stray.body.error.code], [400, "invalid_param"]);
    });

    it("polling: only matching events are answered, the cursor passes the others, and a long-poll waits past them", async () => {
      const ch = "orders:poll";
      const base = `${hub.url}/api/updates?channel=${ch}&filter=${q("symbol=BTC")}`;
      const start = await getJson(base);
      assert.equal(start.status, 200);
      await publish(ch, 1, ETH_FILL);
      await publish(ch, 2, BTC_FILL);
      const last = await publish(ch, 3, ETH_FILL);
      const answer = await getJson(`${base}&since=${start.body.cursor}`);
      assert.deepEqual(answer.body.updates.map((update: Frame) => [update.data, update.tags]), [[{ n: 2 }, BTC_FILL]]);
      assert.equal(answer.body.count, 1);
      assert.equal(answer.body.recovered, true);
      assert.deepEqual(decodeCursor(answer.body.cursor)![ch], { epoch: last.epoch, offset: 3 }, "the cursor passes the dropped event 3");

      const waiting = getJson(`${base}&since=${answer.body.cursor}&timeout=10s`);
      await publish(ch, 4, ETH_FILL);
      await publish(ch, 5, ETH_FILL);
      await publish(ch, 6, BTC_CANCEL);
      const waited = await waiting;
      assert.deepEqual(waited.body.updates.map((update: Frame) => update.data), [{ n: 6 }]);
      assert.equal(decodeCursor(waited.body.cursor)![ch]!.offset, 6);

      const bad = await getJson(`${base.replace(q("symbol=BTC"), q("symbol=BTC or"))}`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, "invalid_filter");
      assert.match(bad.body.error.message, /expected a tag key or "\(" at position 14, found the end of the filter/);
    });
  });
}
