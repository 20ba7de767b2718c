/**
 * Pattern subscriptions (`subscribe` with `channel: "orders:*"`): events of every matching channel
 * the connection may read, each with its real channel; never one it could not subscribe to by
 * name; channels that appear after the subscribe flow live, in order; recovery per channel with
 * `positions`. With the memory engine and with two nodes on Redis (subscriber on one, publisher on
 * the other).
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { getJson, startHerald, TestClient, type Frame, type RunningHerald } from "./support/herald.js";
import { deleteKeys, REDIS_URL, redisSkip, uniquePrefix } from "./support/redis.js";
import { SECRET, hs256 } from "./security/attack-support.js";
import { SseReader } from "./support/sse.js";
import { waitUntil } from "./support/deadline.js";
import { Redis } from "ioredis";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** How many patterns a node's Redis subscriber connection listens to (CLIENT LIST's psub). */
async function patternsListened(node: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const list = (await redis.call("CLIENT", "LIST")) as string;
    const line = list.split("\n").find((entry) => entry.includes(`name=herald:${node}-subscriber`));
    return Number(/ psub=(\d+)/.exec(line ?? "")?.[1] ?? 0);
  } finally {
    redis.disconnect();
  }
}

const engines = [
  { name: "memory", skip: false as false | string, engine: (_prefix: string) => ({}) },
  { name: "redis", skip: await redisSkip(), engine: (prefix: string) => ({ engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix, patterns: true } }) },
];

const isEvent = (frame: Frame): boolean => frame.type === "order" || frame.type === "note";

for (const { name, skip, engine } of engines) {
  describe(`pattern subscriptions (${name} engine)`, { skip }, () => {
    const prefix = uniquePrefix("patterns");
    let hub: RunningHerald;
    /** Where events are published: another node on Redis, the same one in memory. */
    let publisher: RunningHerald;
    const config = {
      ...engine(prefix),
      auth: { jwt: { secret: SECRET } },
      namespaces: { user: { personal: true }, orders: { subscribe: "public" as const }, small: { subscribe: "public" as const } },
      maxPatternChannels: 50,
    };
    before(async () => {
      hub = await startHerald(config);
      publisher = name === "redis" ? await startHerald(config) : hub;
    });
    after(async () => {
      if (publisher !== hub) await publisher.close();
      await hub.close();
      if (name === "redis") await deleteKeys(prefix);
    });
    const publish = (channel: string, data: unknown, type = "order") => publisher.herald.publish(channel, type, data);

    it("a pattern with a tag filter gets only the matching events of every channel it matches", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const subscribed = await client.subscribe("orders:tagged-*", { filter: "symbol=BTC" });
      assert.equal(subscribed.type, "subscribed");
      await publisher.herald.publish("orders:tagged-1", "order", { n: 1 }, { tags: { symbol: "ETH" } });
      await publisher.herald.publish("orders:tagged-1", "order", { n: 2 }, { tags: { symbol: "BTC" } });
      await publisher.herald.publish("orders:tagged-2", "order", { n: 3 }, { tags: { symbol: "ETH" } });
      await publisher.herald.publish("orders:tagged-2", "order", { n: 4 }, { tags: { symbol: "BTC" } });
      await publisher.herald.publish("orders:tagged-1", "order", { n: 5 }, { tags: { symbol: "BTC" } });
      const events = await client.take(3, isEvent);
      // Order holds per channel (a channel's first event waits for its permission, so channels may interleave).
      const perChannel = (channel: string): number[] => events.filter((event) => event.channel === channel).map((event) => (event.data as { n: number }).n);
      assert.deepEqual([perChannel("orders:tagged-1"), perChannel("orders:tagged-2")], [[2, 5], [4]]);
      assert.deepEqual(events.map((event) => event.tags), [{ symbol: "BTC" }, { symbol: "BTC" }, { symbol: "BTC" }]);
      assert.equal(client.frames.some((frame) => isEvent(frame) && (frame.data as { n: number }).n % 2 === 1 && (frame.data as { n: number }).n !== 5), false);
      await client.close();
    });

    it("a pattern subscribe with a filter that does not parse is refused with invalid_filter", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const refused = await client.subscribe("orders:*", { id: "f", filter: "symbol in (BTC" });
      assert.equal(refused.type, "error");
      assert.equal(refused.code, "invalid_filter");
      await client.close();
    });

    it("user 42 subscribing to user:* gets user:42's events only, each with its real channel", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "42" }, { expiresIn: "1h" })}`);
      const subscribed = await client.subscribe("user:*", { id: "p" });
      assert.equal(subscribed.type, "subscribed");
      assert.equal(subscribed.channel, "user:*");
      assert.equal(subscribed.id, "p");
      await publish("user:43", { secret: true }, "note");
      await publish("user:42", { n: 1 }, "note");
      await publish("user:43", { secret: true }, "note");
      await publish("user:42", { n: 2 }, "note");
      const events = await client.take(2, isEvent);
      assert.deepEqual(events.map((event) => [event.channel, (event.data as { n: number }).n]), [["user:42", 1], ["user:42", 2]]);
      // A marker on the allowed channel, published after the last user:43 event, proves nothing of user:43 was in between or is still coming.
      await publish("user:42", { n: 3 }, "note");
      await client.next((frame) => isEvent(frame) && (frame.data as { n: number }).n === 3);
      assert.equal(client.frames.some((frame) => frame.channel === "user:43"), false);
      await client.close();
    });

    it("a token limited to some channels gets only those under the pattern", async () => {
      const token = await hs256({ sub: "carol", channels: ["orders:eu-*"] }, { expiresIn: "1h" });
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
      assert.equal((await client.subscribe("orders:*")).type, "subscribed");
      await publish("orders:us-1", { n: 0 });
      await publish("orders:eu-1", { n: 1 });
      await publish("orders:us-1", { n: 0 });
      await publish("orders:eu-2", { n: 2 });
      const events = await client.take(2, isEvent);
      assert.deepEqual(events.map((event) => event.channel).sort(), ["orders:eu-1", "orders:eu-2"]);
      await publish("orders:eu-1", { n: 3 });
      await client.next((frame) => isEvent(frame) && (frame.data as { n: number }).n === 3);
      assert.equal(client.frames.some((frame) => frame.channel === "orders:us-1"), false);
      await client.close();
    });

    it("a channel first published after the subscribe flows from its first event, in order", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "dan" }, { expiresIn: "1h" })}`);
      await client.subscribe("orders:new-*");
      const channel = `orders:new-${Date.now()}`;
      // Published back to back: the channel's permission is still being decided while most arrive.
      await Promise.all(Array.from({ length: 20 }, (_, n) => publish(channel, { n: n + 1 })));
      const events = await client.take(20, isEvent);
      assert.deepEqual(events.map((event) => event.offset), Array.from({ length: 20 }, (_, n) => n + 1));
      assert.ok(events.every((event) => event.channel === channel));
      await client.close();
    });

    it("recovers each listed channel from its position after a reconnect, then goes on live", async () => {
      const token = await hs256({ sub: "erin" }, { expiresIn: "1h" });
      const first = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
      await first.subscribe("orders:r-*");
      await publish("orders:r-a", { n: 1 });
      await publish("orders:r-b", { n: 1 });
      const seen = await first.take(2, isEvent);
      const positions = Object.fromEntries(seen.map((event) => [event.channel as string, { epoch: event.epoch, offset: event.offset }]));
      await first.close();
      await publish("orders:r-a", { n: 2 });
      await publish("orders:r-b", { n: 2 });
      await publish("orders:r-a", { n: 3 });
      const second = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
      const subscribed = await second.subscribe("orders:r-*", { positions });
      assert.equal(subscribed.recovered, true);
      const channels = subscribed.channels as Record<string, { offset: number; recovered: boolean }>;
      assert.deepEqual(Object.keys(channels).sort(), ["orders:r-a", "orders:r-b"]);
      assert.equal(channels["orders:r-a"]!.recovered, true);
      assert.equal(channels["orders:r-a"]!.offset, 3);
      const missed = await second.take(3, isEvent);
      const of = (channel: string) => missed.filter((event) => event.channel === channel).map((event) => (event.data as { n: number }).n);
      assert.deepEqual(of("orders:r-a"), [2, 3]);
      assert.deepEqual(of("orders:r-b"), [2]);
      await publish("orders:r-b", { n: 3 });
      const live = await second.next(isEvent);
      assert.deepEqual([live.channel, live.offset], ["orders:r-b", 3]);
      await second.close();
    });

    it("a position on a channel the connection may not read is left out", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "42" }, { expiresIn: "1h" })}`);
      await publish("user:43", { secret: true }, "note");
      const subscribed = await client.subscribe("user:*", { positions: { "user:43": { epoch: "x", offset: 0 } } });
      assert.equal(subscribed.type, "subscribed");
      assert.deepEqual(subscribed.channels, {});
      await publish("user:42", { n: 1 }, "note");
      const event = await client.next(isEvent);
      assert.equal(event.channel, "user:42");
      assert.equal(client.frames.some((frame) => frame.channel === "user:43"), false);
      await client.close();
    });

    it("unsubscribe by the pattern stops every channel", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "fay" }, { expiresIn: "1h" })}`);
      await client.subscribe("orders:u-*");
      await client.subscribe("small:marker");
      await publish("orders:u-1", { n: 1 });
      await client.next(isEvent);
      client.send({ type: "unsubscribe", id: 9, channel: "orders:u-*" });
      const answer = await client.next("unsubscribed");
      assert.deepEqual([answer.id, answer.channel], [9, "orders:u-*"]);
      await publish("orders:u-1", { n: 2 });
      await publish("orders:u-2", { n: 3 });
      await publish("small:marker", { n: 4 });
      const marker = await client.next(isEvent);
      assert.equal(marker.channel, "small:marker");
      assert.equal(client.frames.filter((frame) => isEvent(frame) && frame.channel !== "small:marker").length, 1);
      await client.close();
    });

    it("refuses patterns that could span every namespace, and says so", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      for (const pattern of ["*", "ord*", "*:1"]) {
        const answer = await client.subscribe(pattern, { id: pattern });
        assert.equal(answer.type, "error");
        assert.equal(answer.code, "pattern_too_broad");
        assert.match(String(answer.message), /namespace/);
      }
      const bad = await client.subscribe("orders:*", { since: { epoch: "e", offset: 1 } });
      assert.equal(bad.code, "invalid_since");
      const outside = await client.subscribe("orders:*", { positions: { "small:1": { epoch: "e", offset: 1 } } });
      assert.equal(outside.code, "invalid_since");
      await client.close();
    });

    it("SSE: a pattern stream carries the permitted channels only, and Last-Event-ID resumes each of them", async () => {
      const token = await hs256({ sub: "42" }, { expiresIn: "1h" });
      const first = await SseReader.open(`${hub.url}/sse?channel=user:*&token=${token}`);
      const [subscribed] = await first.waitFor("subscribed");
      assert.equal(subscribed!.data.channel, "user:*");
      await publish("user:43", { secret: true }, "note");
      await publish("user:42", { n: 1 }, "note");
      const [seen] = await first.waitFor("note");
      assert.equal(seen!.data.channel, "user:42");
      first.close();
      await publish("user:42", { n: 2 }, "note");
      await publish("user:43", { secret: true }, "note");
      await publish("user:42", { n: 3 }, "note");
      const second = await SseReader.open(`${hub.url}/sse?channel=user:*&token=${token}`, { "last-event-id": seen!.id! });
      const [again] = await second.waitFor("subscribed");
      assert.equal(again!.data.recovered, true);
      const missed = await second.waitFor("note", 2);
      assert.deepEqual(missed.map((record) => (record.data.data as { n: number }).n), [2, 3]);
      assert.equal([...first.records, ...second.records].some((record) => record.data.channel === "user:43"), false);
      second.close();
    });

    it("SSE: a stream that drops before any event resumes from its subscribed record, and gets the channels that started matching meanwhile (its own, never another user's)", async () => {
      const token = await hs256({ sub: "52" }, { expiresIn: "1h" });
      const first = await SseReader.open(`${hub.url}/sse?channel=user:*&token=${token}`);
      const [subscribed] = await first.waitFor("subscribed");
      assert.ok(subscribed!.id, "the subscribed record carries the cursor");
      first.close();
      await publish("user:53", { secret: true }, "note");
      await publish("user:52", { n: 1 }, "note");
      await publish("user:52", { n: 2 }, "note");
      const second = await SseReader.open(`${hub.url}/sse?channel=user:*&token=${token}`, { "last-event-id": subscribed!.id! });
      const [again] = await second.waitFor("subscribed");
      assert.equal(again!.data.recovered, true);
      assert.deepEqual(Object.keys(again!.data.channels as object), ["user:52"]);
      const missed = await second.waitFor("note", 2);
      assert.deepEqual(missed.map((record) => [record.data.channel, (record.data.data as { n: number }).n]), [["user:52", 1], ["user:52", 2]]);
      // Live after that, and nothing of user:53 on the way.
      await publish("user:52", { n: 3 }, "note");
      await second.waitFor("note", 3);
      assert.equal([...first.records, ...second.records].some((record) => record.data?.channel === "user:53"), false);
      second.close();
    });

    it("polling: a channel that starts matching between two polls is in the next answer, from its first event (its own, never another user's)", async () => {
      const token = await hs256({ sub: "62" }, { expiresIn: "1h" });
      const poll = (since?: string) => getJson(`${hub.url}/api/updates?channel=user:*&token=${token}${since ? `&since=${since}` : ""}`);
      const first = await poll();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // Not waiting: the next poll has not been sent yet when these are published.
      await publish("user:63", { secret: true }, "note");
      await publish("user:62", { n: 1 }, "note");
      await publish("user:62", { n: 2 }, "note");
      const second = await poll(first.body.cursor);
      assert.deepEqual(second.body.updates.map((event: Frame) => [event.channel, (event.data as { n: number }).n]), [["user:62", 1], ["user:62", 2]]);
      assert.equal(second.body.recovered, true);
      await publish("user:62", { n: 3 }, "note");
      const third = await poll(second.body.cursor);
      assert.deepEqual(third.body.updates.map((event: Frame) => (event.data as { n: number }).n), [3], "each event once");
    });

    it("polling: a long-poll on a pattern wakes for a new permitted channel, and the cursor resumes it", async () => {
      const token = await hs256({ sub: "77" }, { expiresIn: "1h" });
      const poll = (since?: string) => getJson(`${hub.url}/api/updates?channel=user:*&timeout=5s&token=${token}${since ? `&since=${since}` : ""}`);
      /** Resolves once a long-poll waits on this node with its pattern listened to (on Redis, PSUBSCRIBE confirmed). */
      const waiting = async (): Promise<void> => {
        await waitUntil("the long-poll to wait", () => hub.herald.hub.counts().byTransport.polling > 0);
        if (name === "redis") await waitUntil("the pattern to be listened to", async () => (await patternsListened(hub.herald.node)) > 0);
      };
      const first = poll();
      await waiting();
      await publish("user:78", { secret: true }, "note");
      // The other user's event wakes the poll; it answers nothing of it.
      const woken = await first;
      assert.deepEqual(woken.body.updates, []);
      const second = poll(woken.body.cursor);
      await waiting();
      await publish("user:77", { n: 1 }, "note");
      const found = await second;
      assert.deepEqual(found.body.updates.map((event: Frame) => [event.channel, (event.data as { n: number }).n]), [["user:77", 1]]);
      await publish("user:77", { n: 2 }, "note");
      await publish("user:78", { secret: true }, "note");
      await publish("user:77", { n: 3 }, "note");
      const next = await poll(found.body.cursor);
      assert.deepEqual(next.body.updates.map((event: Frame) => (event.data as { n: number }).n), [2, 3]);
      assert.equal(next.body.recovered, true);
    });

    it("past maxPatternChannels, further channels are not delivered and the client is told once", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      await client.subscribe("small:*");
      for (let n = 0; n < 50; n++) await publish(`small:c${n}`, { n });
      await client.take(50, isEvent, 20_000);
      await publish("small:one-too-many", { n: 50 });
      await publish("small:two-too-many", { n: 51 });
      const error = await client.next("error");
      assert.equal(error.code, "pattern_channel_limit");
      assert.equal(error.channel, undefined);
      assert.match(String(error.message), /small:\*/);
      await publish("small:c0", { n: 52 });
      const next = await client.next(isEvent);
      assert.equal((next.data as { n: number }).n, 52);
      assert.equal(client.frames.filter((frame) => frame.type === "error").length, 1);
      await client.close();
    });
  });
}

describe("pattern subscriptions where the app's backend decides (subscribe proxy)", () => {
  it("a channel's events wait for the backend's answer and then arrive in order; a refused channel never shows", async () => {
    /** The backend holds its answer for room:open-1 until released, and refuses every other room. */
    const held: Array<() => void> = [];
    const asked: string[] = [];
    const backend = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        const { channel } = JSON.parse(text) as { channel: string };
        asked.push(channel);
        const answer = channel === "room:open-1" ? () => response.writeHead(200, { "content-type": "application/json" }).end("{}") : () => response.writeHead(403, { "content-type": "application/json" }).end('{"error":"not a member"}');
        if (channel === "room:open-1") held.push(answer);
        else answer();
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const hub = await startHerald({ auth: { jwt: { secret: SECRET }, proxy: { subscribe: { url: `${url}/subscribe`, timeout: "5s", cacheTtl: "0s" } } }, namespaces: { room: { subscribe: "proxy" } } });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "gus" }, { expiresIn: "1h" })}`);
      assert.equal((await client.subscribe("room:*")).type, "subscribed");
      await hub.herald.publish("room:closed-1", "note", { n: 0 });
      for (let n = 1; n <= 10; n++) await hub.herald.publish("room:open-1", "note", { n });
      await waitUntil("the backend to be asked about room:open-1", () => held.length === 1);
      // Every event is published and the answer is still pending: nothing of room:open-1 went out yet.
      assert.equal(client.frames.filter(isEvent).length, 0);
      held[0]!();
      const events = await client.take(10, isEvent);
      assert.deepEqual(events.map((event) => [event.channel, event.offset]), Array.from({ length: 10 }, (_, n) => ["room:open-1", n + 1]));
      // The refusal is kept: room:closed-1 is not asked about again, and its events never come.
      await hub.herald.publish("room:closed-1", "note", { n: 0 });
      await hub.herald.publish("room:open-1", "note", { n: 11 });
      await client.next((frame) => isEvent(frame) && frame.offset === 11);
      assert.equal(client.frames.some((frame) => frame.channel === "room:closed-1"), false);
      assert.deepEqual(asked.sort(), ["room:closed-1", "room:open-1"]);
      await client.close();
    } finally {
      await hub.close();
      backend.closeAllConnections();
      await new Promise<void>((resolve) => backend.close(() => resolve()));
    }
  });
});

describe("pattern subscriptions refused where the engine cannot deliver them", { skip: await redisSkip() }, () => {
  it("the Redis engine without engine.patterns answers patterns_unsupported, and keeps the connection", async () => {
    const prefix = uniquePrefix("patterns-off");
    const hub = await startHerald({ engine: { type: "redis", redisUrl: REDIS_URL, prefix } });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const answer = await client.subscribe("orders:*");
      assert.equal(answer.code, "patterns_unsupported");
      assert.equal((await client.subscribe("orders:1")).type, "subscribed");
      await client.close();
    } finally {
      await hub.close();
      await deleteKeys(prefix);
    }
  });
});
