/**
 * A node cut off from Redis for longer than history keeps: its subscribers are not left with a
 * silent hole. The node closes their connections with `resync` (4009, reconnect) and, resuming
 * with `since`, they learn `recovered: false`.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CloseCodes } from "@herald/protocol";
import { RedisEngine } from "../src/engine/redis.js";
import { TestClient, startHerald, type RunningHerald } from "./support/herald.js";
import { REDIS_URL, deleteKeys, redisBehindProxy, redisSkip, uniquePrefix } from "./support/redis.js";

describe("resync after events were lost on their way to a node", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("resync");
  const opened: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const item of opened.reverse()) await item.close();
    await deleteKeys(prefix);
  });

  it("closes the subscribers with resync, and they resume with recovered: false", async () => {
    const { proxy, url } = await redisBehindProxy();
    opened.push(proxy);
    const config = { namespaces: { feed: { history: { size: 2 } } } };
    const cutNode: RunningHerald = await startHerald(config, { engine: new RedisEngine({ url, prefix }) });
    opened.push(cutNode);
    const otherNode: RunningHerald = await startHerald(config, { engine: new RedisEngine({ url: REDIS_URL, prefix }) });
    opened.push(otherNode);
    const channel = `feed:${randomBytes(4).toString("hex")}`;

    const client = await TestClient.open(`${cutNode.wsUrl}/ws`);
    const subscribed = await client.subscribe(channel);
    await otherNode.herald.publish(channel, "tick", 1);
    const first = await client.next("tick");
    assert.equal(first.offset, 1);

    proxy.cut();
    for (let i = 2; i <= 6; i++) await otherNode.herald.publish(channel, "tick", i);
    proxy.restore();
    const closed = await client.closed;
    assert.equal(closed.code, CloseCodes.resync.code);

    const again = await TestClient.open(`${otherNode.wsUrl}/ws`);
    const resumed = await again.subscribe(channel, { since: { epoch: subscribed.epoch, offset: 1 } });
    assert.equal(resumed.recovered, false, "events 2-4 left history, so the client must reload");
    assert.equal(resumed.offset, 6);
    // The control: resumed from offset 4 on the same epoch, the missed 5 and 6 are still in
    // history, so it recovers them; `false` above is because 2-4 are gone, not a broken resume.
    const control = await TestClient.open(`${otherNode.wsUrl}/ws`);
    const kept = await control.subscribe(channel, { since: { epoch: subscribed.epoch, offset: 4 } });
    assert.equal(kept.recovered, true);
    assert.deepEqual((await control.take(2, "tick")).map((frame) => [frame.offset, frame.data]), [[5, 5], [6, 6]]);
    await control.close();
    await again.close();
  });
});
