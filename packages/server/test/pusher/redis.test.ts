/**
 * Two Herald nodes on one Redis (a prefix of this run's own): a Pusher event triggered on one node
 * reaches pusher-js on the other, client events cross nodes, presence members are announced once
 * per user when the user's connections are on both nodes, and the HTTP API counts every node.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningHerald } from "../support/herald.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { PusherClient, collect, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";

const skip = await redisSkip();

describe("Pusher across two nodes on Redis", { skip }, () => {
  const prefix = uniquePrefix("pusher");
  let a: RunningHerald;
  let b: RunningHerald;
  const clients: PusherClient[] = [];
  const connect = async (node: RunningHerald, user?: string): Promise<PusherClient> => {
    const client = await PusherClient.connect(node, user === undefined ? {} : { user: { user_id: user, user_info: { name: user } } });
    clients.push(client);
    return client;
  };

  before(async () => {
    const engine = { type: "redis" as const, redisUrl: REDIS_URL, prefix };
    a = await startPusherHerald({ engine, node: "node-a" });
    b = await startPusherHerald({ engine, node: "node-b" });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all([a?.close(), b?.close()]);
    await deleteKeys(prefix);
  });

  it("delivers an event triggered on one node to pusher-js on the other, and client events across nodes", async () => {
    const onA = await connect(a, "ann");
    const onB = await connect(b, "ben");
    const channelA = await onA.subscribe("private-cross");
    const channelB = await onB.subscribe("private-cross");
    const heardOnA = collect(channelA, "news");
    await serverSdk(b).trigger("private-cross", "news", { from: "b" });
    await until("node A's subscriber gets node B's trigger", () => heardOnA.length === 1);
    assert.deepEqual(heardOnA[0]!.data, { from: "b" });

    const typingOnA = collect(channelA, "client-typing");
    const echoOnB = collect(channelB, "client-typing");
    channelB.trigger("client-typing", { who: "ben" });
    await until("ben's client event on node A", () => typingOnA.length === 1);
    await settle();
    assert.equal(echoOnB.length, 0);
  });

  it("announces a user once when its connections are on both nodes, and once when the last one leaves", async () => {
    const watcher = await connect(a, "watcher");
    const room = await watcher.subscribePresence("presence-cluster");
    const added = collect(room, "pusher:member_added");
    const removed = collect(room, "pusher:member_removed");
    const tabOnA = await connect(a, "dora");
    const tabOnB = await connect(b, "dora");
    // Both tabs join at once, on different nodes.
    await Promise.all([tabOnA.subscribePresence("presence-cluster"), tabOnB.subscribePresence("presence-cluster")]);
    await until("member_added for dora", () => added.length >= 1);
    await settle(500);
    assert.equal(added.length, 1, "one member_added for two connections on two nodes");
    assert.equal(room.members.count, 2);

    const counts = await (await serverSdk(b).get({ path: "/channels/presence-cluster", params: { info: "user_count,subscription_count" } })).json();
    assert.deepEqual(counts, { occupied: true, user_count: 2, subscription_count: 3 });
    const listed = (await (await serverSdk(b).get({ path: "/channels", params: { filter_by_prefix: "presence-cluster" } })).json()) as { channels: Record<string, unknown> };
    assert.deepEqual(Object.keys(listed.channels), ["presence-cluster"], "node B lists a channel held on node A too");

    tabOnB.disconnect();
    await settle(500);
    assert.equal(removed.length, 0, "dora still has a connection on node A");
    tabOnA.disconnect();
    await until("member_removed for dora", () => removed.length === 1);
    await settle(300);
    assert.equal(removed.length, 1);
    assert.equal(room.members.count, 1);
  });
});
