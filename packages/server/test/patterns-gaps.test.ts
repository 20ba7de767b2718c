/**
 * A pattern subscription learns of a matching channel from its events: two gaps used to hide a
 * channel that started matching while its events could not arrive.
 *
 * 1. A node cut off from Redis: a channel first published meanwhile was never held by the node, so
 *    no catch-up brought its events; they are now replayed from history once the node is back.
 * 2. A client away: a pattern subscribe with `after` (the `time` of its last `subscribed`) gets the
 *    channels published since then that its `positions` do not list, from then on.
 *
 * Each checks the exact events received (none lost, none twice, in order per channel), and that
 * another user's personal channel under `user:*` is never revealed through either path.
 */

import { after as afterAll, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { RedisEngine } from "../src/engine/redis.js";
import { startHerald, TestClient, type Frame, type RunningHerald } from "./support/herald.js";
import { deleteKeys, REDIS_URL, redisBehindProxy, redisSkip, uniquePrefix } from "./support/redis.js";
import { waitUntil } from "./support/deadline.js";
import { SECRET, hs256 } from "./security/attack-support.js";

const NAMESPACES = { user: { personal: true }, orders: { subscribe: "public" as const } };
const isEvent = (frame: Frame): boolean => frame.type === "order" || frame.type === "note";
/** [channel, offset, data.n] of each event frame, in the order received. */
const seen = (frames: Frame[]): Array<[string, number, number]> => frames.filter(isEvent).map((frame) => [frame.channel as string, frame.offset as number, (frame.data as { n: number }).n]);
const of = (frames: Frame[], channel: string): number[] => seen(frames).filter(([name]) => name === channel).map(([, offset]) => offset);
const tag = (): string => randomBytes(4).toString("hex");
/** Waits until the client received `count` events in all (frames come in whatever order the subscribes answer). */
const arrived = (client: TestClient, count: number): Promise<void> =>
  waitUntil(`${count} events`, () => seen(client.frames).length >= count, 20_000, () => JSON.stringify(seen(client.frames)));

describe("pattern subscriptions: a node cut off from Redis", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("pattern-gap");
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const item of opened.reverse()) await item.close();
    await deleteKeys(prefix);
  });

  it("delivers the channels first published while it was cut off, from their first event, once it is back", async () => {
    const { proxy, url: viaProxy } = await redisBehindProxy();
    opened.push(proxy);
    const config = { auth: { jwt: { secret: SECRET } }, namespaces: NAMESPACES };
    const cutEngine = new RedisEngine({ url: viaProxy, prefix, patterns: true, connectionName: `gap-cut-${tag()}` });
    const cutNode: RunningHerald = await startHerald(config, { engine: cutEngine });
    opened.push(cutNode);
    const otherNode: RunningHerald = await startHerald(config, { engine: new RedisEngine({ url: REDIS_URL, prefix, patterns: true }) });
    opened.push(otherNode);
    const run = tag();
    const [held, fresh, mine, theirs] = [`orders:held-${run}`, `orders:new-${run}`, `user:42-${run}`, `user:43-${run}`];
    const publish = (channel: string, n: number) => otherNode.herald.publish(channel, channel.startsWith("user:") ? "note" : "order", { n });

    const client = await TestClient.open(`${cutNode.wsUrl}/ws?token=${await hs256({ sub: `42-${run}` }, { expiresIn: "1h" })}`);
    opened.push(client);
    assert.equal((await client.subscribe(`orders:*-${run}`)).type, "subscribed");
    assert.equal((await client.subscribe("user:*")).type, "subscribed");
    await publish(held, 1);
    await client.next(isEvent);

    proxy.cut();
    await waitUntil("the cut node to see Redis gone", () => !cutEngine.status().available);
    // Never published before: the cut node holds neither, so only the pattern could have found them.
    for (const [channel, n] of [[fresh, 1], [theirs, 1], [mine, 1], [fresh, 2], [held, 2], [theirs, 2], [mine, 2]] as const) await publish(channel, n);
    proxy.restore();

    await arrived(client, 6);
    // Live events after the replay follow in order; the markers prove nothing else is still coming.
    await publish(fresh, 3);
    await publish(mine, 3);
    await arrived(client, 8);
    assert.deepEqual(of(client.frames, held), [1, 2]);
    assert.deepEqual(of(client.frames, fresh), [1, 2, 3]);
    assert.deepEqual(of(client.frames, mine), [1, 2, 3]);
    assert.equal(seen(client.frames).length, 8, JSON.stringify(seen(client.frames)));
    assert.equal(client.frames.some((frame) => JSON.stringify(frame).includes(theirs)), false);
  });
});

const engines = [
  { name: "memory", skip: false as false | string, engine: (_prefix: string) => ({}) },
  { name: "redis, two nodes", skip: await redisSkip(), engine: (prefix: string) => ({ engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix, patterns: true } }) },
];

for (const { name, skip, engine } of engines) {
  describe(`pattern subscriptions: a client away (${name})`, { skip }, () => {
    const prefix = uniquePrefix("pattern-after");
    let first: RunningHerald;
    /** Where the client comes back, and where events are published: another node on Redis, the same one in memory. */
    let second: RunningHerald;
    const config = { ...engine(prefix), auth: { jwt: { secret: SECRET } }, namespaces: { ...NAMESPACES, brief: { subscribe: "public" as const, history: { size: 2 } } } };
    before(async () => {
      first = await startHerald(config);
      second = name === "memory" ? first : await startHerald(config);
    });
    afterAll(async () => {
      if (second !== first) await second.close();
      await first.close();
      if (name !== "memory") await deleteKeys(prefix);
    });

    it("answers a pattern subscribe with its time, and a subscribe with after gets the channels that started matching since, each from its first event", async () => {
      const run = tag();
      const token = await hs256({ sub: `42-${run}` }, { expiresIn: "1h" });
      const [known, fresh, mine, theirs] = [`orders:known-${run}`, `orders:fresh-${run}`, `user:42-${run}`, `user:43-${run}`];
      const publish = (channel: string, n: number) => second.herald.publish(channel, channel.startsWith("user:") ? "note" : "order", { n });
      // Published before the first subscribe: not the client's to get, now or after.
      await publish(fresh, 0);

      const away = await TestClient.open(`${first.wsUrl}/ws?token=${token}`);
      const orders = await away.subscribe(`orders:*-${run}`);
      const users = await away.subscribe("user:*");
      assert.equal(typeof orders.time, "string");
      assert.ok(Math.abs(Date.parse(orders.time as string) - Date.now()) < 60_000, String(orders.time));
      await publish(known, 1);
      const got = await away.next(isEvent);
      await away.close();

      for (const [channel, n] of [[known, 2], [fresh, 1], [theirs, 1], [mine, 1], [fresh, 2], [theirs, 2]] as const) await publish(channel, n);

      const back = await TestClient.open(`${second.wsUrl}/ws?token=${token}`);
      const resumed = await back.subscribe(`orders:*-${run}`, { positions: { [known]: { epoch: got.epoch, offset: got.offset } }, after: orders.time });
      assert.equal(resumed.recovered, true);
      assert.deepEqual(Object.keys(resumed.channels as object).sort(), [fresh, known].sort());
      assert.deepEqual((resumed.channels as Record<string, unknown>)[fresh], { epoch: (resumed.channels as Record<string, { epoch: string }>)[fresh]!.epoch, offset: 1, recovered: true });
      const resumedUsers = await back.subscribe("user:*", { after: users.time });
      assert.equal(resumedUsers.recovered, true);
      assert.deepEqual(Object.keys(resumedUsers.channels as object), [mine]);
      // Each subscribe's events may come before the other's answer: counted over every frame.
      await arrived(back, 4);
      await publish(fresh, 3);
      await publish(mine, 2);
      await arrived(back, 6);
      assert.deepEqual(of(back.frames, known), [2]);
      assert.deepEqual(of(back.frames, fresh), [2, 3, 4], "offset 1 (n 0) came before the first subscribe");
      assert.deepEqual(of(back.frames, mine), [1, 2]);
      assert.equal(seen(back.frames).length, 6, JSON.stringify(seen(back.frames)));
      assert.equal(back.frames.some((frame) => JSON.stringify(frame).includes(theirs)), false);
      await back.close();
    });

    it("says recovered: false for a channel whose events since after left history, and delivers what history has", async () => {
      const run = tag();
      const channel = `brief:${run}`;
      const away = await TestClient.open(`${first.wsUrl}/ws`);
      const subscribed = await away.subscribe(`brief:${run}*`);
      await away.close();
      for (let n = 1; n <= 4; n++) await second.herald.publish(channel, "order", { n });
      const back = await TestClient.open(`${second.wsUrl}/ws`);
      const resumed = await back.subscribe(`brief:${run}*`, { after: subscribed.time });
      assert.equal(resumed.recovered, false);
      const state = (resumed.channels as Record<string, { offset: number; recovered: boolean }>)[channel]!;
      assert.deepEqual([state.offset, state.recovered], [2, false]);
      assert.deepEqual((await back.take(2, isEvent)).map((frame) => frame.offset), [3, 4]);
      await back.close();
    });

    it("says recovered: false for an after older than the index keeps, and refuses an after that is not a time", async () => {
      const client = await TestClient.open(`${second.wsUrl}/ws`);
      const old = await client.subscribe(`orders:old-${tag()}*`, { after: new Date(Date.now() - 24 * 3600_000).toISOString() });
      assert.equal(old.type, "subscribed");
      assert.equal(old.recovered, false);
      for (const bad of ["yesterday", 1733333333, "2026-13-45T99:00:00Z"]) {
        const refused = await client.subscribe(`orders:bad-${tag()}*`, { after: bad });
        assert.deepEqual([refused.type, refused.code], ["error", "invalid_since"], JSON.stringify(bad));
        assert.match(String(refused.message), /ISO-8601/);
      }
      const byName = await client.subscribe(`orders:${tag()}`, { after: new Date().toISOString() });
      assert.deepEqual([byName.type, byName.code], ["error", "invalid_frame"]);
      await client.close();
    });
  });
}
