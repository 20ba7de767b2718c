/**
 * The server API across two nodes on one Redis: an action asked of either node reaches the user's
 * connections on both, channel counts and users are summed over both, and a node that stopped is
 * neither counted nor waited for.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "./support/redis.js";
import { SECRET, hs256 } from "./security/attack-support.js";

const API_KEY = "cluster-backend-key-0123456789";
const backend = { authorization: `Bearer ${API_KEY}` };

async function connect(node: RunningHerald, user: string, ...channels: string[]): Promise<TestClient> {
  const client = await TestClient.open(`${node.wsUrl}/ws?token=${await hs256({ sub: user }, { expiresIn: "1h" })}`);
  for (const channel of channels) assert.equal((await client.subscribe(channel)).type, "subscribed", channel);
  return client;
}

describe("server API on two nodes sharing Redis", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("server-api");
  let a: RunningHerald;
  let b: RunningHerald;
  const config = {
    engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix },
    auth: { jwt: { secret: SECRET } },
    publish: { apiKeys: [API_KEY] },
    namespaces: { room: { presence: true } },
  };

  before(async () => {
    a = await startHerald({ ...config, node: "node-a" });
    b = await startHerald({ ...config, node: "node-b" });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await deleteKeys(prefix);
  });

  it("shows the whole cluster's figures in /api/status on either node: counts summed, users and channels once; a stopped node's go with it", async () => {
    const clients = [await connect(a, "alice", "room:7"), await connect(b, "alice", "room:7"), await connect(b, "bob", "room:8")];
    for (const [node, own] of [[a, 1], [b, 2]] as const) {
      const status = (await getJson(`${node.url}/api/status`)).body;
      assert.equal(status.connections, own, "the top level stays this node's own");
      const { count, missing, totals, nodes } = status.cluster;
      assert.deepEqual([count, missing, totals.connections, totals.subscriptions, totals.users, totals.channels], [2, 0, 3, 3, 2, 2]);
      assert.deepEqual(nodes.map((entry: { node: string; connections: number }) => [entry.node, entry.connections]).sort(), [["node-a", 1], ["node-b", 2]]);
    }
    const third = await startHerald({ ...config, node: "node-c" });
    const carol = await connect(third, "carol", "room:7");
    assert.equal((await getJson(`${a.url}/api/status`)).body.cluster.totals.connections, 4);
    await third.close();
    await carol.closed;
    const after = (await getJson(`${a.url}/api/status`)).body.cluster;
    assert.deepEqual([after.count, after.totals.connections, after.totals.users], [2, 3, 2]);
    await Promise.all(clients.map((client) => client.close()));
  });

  it("counts channels, subscribers and users over both nodes, whichever node is asked", async () => {
    const clients = [await connect(a, "alice", "room:1", "room:2"), await connect(b, "alice", "room:1"), await connect(b, "bob", "room:1", "other:1")];
    for (const node of [a, b]) {
      const list = await getJson(`${node.url}/api/channels?prefix=room:`, backend);
      assert.deepEqual(list.body, { channels: [{ channel: "room:1", subscribers: 3 }, { channel: "room:2", subscribers: 1 }], total: 2, nodes: 2, unanswered: 0 });
      const info = await getJson(`${node.url}/api/channels/room:1`, backend);
      assert.deepEqual(info.body, { channel: "room:1", subscribers: 3, users: 2, userIds: ["alice", "bob"], presence: 3, nodes: 2, unanswered: 0 });
    }
    await Promise.all(clients.map((client) => client.close()));
  });

  it("unsubscribe and subscribe asked of one node reach the user's connections on the other", async () => {
    const onA = await connect(a, "carol", "room:3");
    const onB = await connect(b, "carol", "room:3");
    const bob = await connect(b, "bob", "room:3");

    const removed = await postJson(`${a.url}/api/unsubscribe`, { user: "carol", channel: "room:3", reason: "moved" }, backend);
    assert.deepEqual(removed.body, { user: "carol", channel: "room:3", connections: 2, nodes: 2, unanswered: 0 });
    for (const client of [onA, onB]) assert.deepEqual(await client.next("unsubscribed"), { type: "unsubscribed", channel: "room:3", code: "server_unsubscribe", reason: "moved" });

    const added = await postJson(`${b.url}/api/subscribe`, { user: "carol", channel: "room:4" }, backend);
    assert.deepEqual(added.body, { user: "carol", channel: "room:4", connections: 2, refused: {}, nodes: 2, unanswered: 0 });
    for (const client of [onA, onB]) assert.equal((await client.next("subscribed")).channel, "room:4");
    // Published on one node, the event reaches the server-made subscriptions on both.
    await b.herald.publish("room:4", "note", { n: 1 });
    await a.herald.publish("room:3", "note", { n: 2 });
    for (const client of [onA, onB]) {
      const note = await client.next("note");
      assert.deepEqual([note.channel, note.data], ["room:4", { n: 1 }], "room:4's event, and nothing of room:3 before it");
    }
    assert.deepEqual((await bob.next("note")).data, { n: 2 });
    await Promise.all([onA.close(), onB.close(), bob.close()]);
  });

  it("disconnect asked of one node closes the user's WebSocket and SSE connections on both; another user's stay", async () => {
    const onA = await connect(a, "dave", "room:5");
    const onB = await connect(b, "dave", "room:5");
    const stream = await SseReader.open(`${b.url}/sse?channel=room:5&token=${await hs256({ sub: "dave" }, { expiresIn: "1h" })}`);
    await stream.waitFor("subscribed");
    const bob = await connect(b, "bob", "room:5");

    const answer = await postJson(`${a.url}/api/disconnect`, { user: "dave", reason: "banned" }, backend);
    assert.deepEqual(answer.body, { user: "dave", reconnect: false, connections: 3, nodes: 2, unanswered: 0 });
    for (const client of [onA, onB]) assert.deepEqual(await client.closed, { code: 4510, reason: "banned" });
    assert.equal((await stream.waitFor("error"))[0]!.data.code, "disconnected");

    await a.herald.publish("room:5", "note", { n: 1 });
    assert.deepEqual((await bob.next("note")).data, { n: 1 });
    assert.equal(bob.closeCode, undefined);
    await bob.close();
  });

  it("a node that stopped is neither counted nor waited for", async () => {
    const third = await startHerald({ ...config, node: "node-c" });
    const client = await connect(third, "erin", "room:6");
    assert.equal((await getJson(`${a.url}/api/channels/room:6`, backend)).body.subscribers, 1);
    await third.close();
    assert.equal(client.closeCode !== undefined || (await client.closed).code > 0, true);
    const started = Date.now();
    const info = await getJson(`${a.url}/api/channels/room:6`, backend);
    assert.deepEqual([info.body.subscribers, info.body.nodes, info.body.unanswered], [0, 2, 0]);
    assert.ok(Date.now() - started < 2_000, `answered in ${Date.now() - started} ms, without waiting for the stopped node`);
  });
});
