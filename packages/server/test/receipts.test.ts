/**
 * Receipts as a backend reads them (GET /api/receipts) after clients acknowledge over each
 * transport: the WebSocket `ack` frame, POST /api/ack for SSE (by connection) and polling (as a
 * user); across a reconnect with recovery; forged acknowledgements ignored and counted.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { waitUntil } from "./support/deadline.js";

const SECRET = "receipts-test-secret-0123456789";
const API_KEY = "receipts-api-key-0123456789";
const BACKEND = { authorization: `Bearer ${API_KEY}` };

const tokenFor = (user: string): Promise<string> => new SignJWT({ sub: user }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

describe("receipts", () => {
  let hub: RunningHerald;
  let channelCount = 0;
  const fresh = (): string => `inbox:r${Date.now().toString(36)}${++channelCount}`;

  before(async () => {
    hub = await startHerald({
      auth: { jwt: { secret: SECRET } },
      publish: { apiKeys: [API_KEY] },
      namespaces: { inbox: { receipts: true }, news: {} },
    });
  });
  after(async () => {
    await hub.close();
  });

  const publish = async (channel: string, count: number): Promise<void> => {
    for (let i = 0; i < count; i++) assert.equal((await postJson(`${hub.url}/api/publish`, { channel, type: "note", data: { i } }, BACKEND)).status, 200);
  };
  const receipts = async (channel: string, user?: string): Promise<any> => {
    const answer = await getJson(`${hub.url}/api/receipts?channel=${encodeURIComponent(channel)}${user === undefined ? "" : `&user=${user}`}`, BACKEND);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  };
  const receiptOf = async (channel: string, user: string): Promise<number | undefined> => (await receipts(channel, user)).receipts[0]?.offset;
  const ignoredAcks = async (): Promise<number> => {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    return Number(/herald_acks_ignored_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it("tells subscribers where receipts are kept, and keeps the highest offset a WebSocket client acknowledged, per user", async () => {
    const channel = fresh();
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await tokenFor("alice")}`);
    const subscribed = await client.subscribe(channel);
    assert.equal(subscribed.receipts, true);
    const plain = await client.subscribe("news:today");
    assert.equal(plain.receipts, undefined, "a namespace without receipts says nothing");
    await publish(channel, 3);
    await client.take(3, "note");
    client.send({ type: "ack", channel, offset: 2 });
    await waitUntil("alice's receipt at 2", async () => (await receiptOf(channel, "alice")) === 2);
    client.send({ type: "ack", channel, offset: 1 });
    client.send({ type: "ack", channel, offset: 3 });
    await waitUntil("alice's receipt at 3", async () => (await receiptOf(channel, "alice")) === 3);
    const body = await receipts(channel);
    assert.equal(body.channel, channel);
    assert.equal(body.epoch, subscribed.epoch);
    assert.deepEqual(body.receipts.map((receipt: any) => [receipt.user, receipt.offset]), [["alice", 3]]);
    assert.ok(!Number.isNaN(Date.parse(body.receipts[0].at)));
    await client.close();
  });

  it("ignores and counts acknowledgements for a channel the connection is not on, or beyond what it was sent", async () => {
    const channel = fresh();
    const other = fresh();
    await publish(other, 2);
    const before = await ignoredAcks();
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await tokenFor("mallory")}`);
    await client.subscribe(channel);
    await publish(channel, 2);
    await client.take(2, "note");
    client.send({ type: "ack", channel: other, offset: 2 });
    client.send({ type: "ack", channel, offset: 99 });
    client.send({ type: "ack", channel: "news:today", offset: 1 });
    // Frames of one connection are handled in order: once this one counts, the three above were handled.
    client.send({ type: "ack", channel, offset: 1 });
    await waitUntil("mallory's receipt at 1", async () => (await receiptOf(channel, "mallory")) === 1);
    assert.deepEqual((await receipts(other)).receipts, [], "nothing on a channel the connection is not subscribed to");
    assert.equal(await ignoredAcks(), before + 3);
    assert.ok(!client.frames.some((frame) => frame.type === "error"), "ignored, not answered");
    await client.close();
  });

  it("keeps counting after a reconnect that recovers the missed events", async () => {
    const channel = fresh();
    const token = await tokenFor("bob");
    const first = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
    const subscribed = await first.subscribe(channel);
    await publish(channel, 2);
    await first.take(2, "note");
    first.send({ type: "ack", channel, offset: 2 });
    await waitUntil("bob's receipt at 2", async () => (await receiptOf(channel, "bob")) === 2);
    await first.close();
    await publish(channel, 2);
    const second = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
    const resumed = await second.subscribe(channel, { since: { epoch: subscribed.epoch, offset: 2 } });
    assert.equal(resumed.recovered, true);
    const missed = await second.take(2, "note");
    assert.deepEqual(missed.map((frame) => frame.offset), [3, 4]);
    second.send({ type: "ack", channel, offset: 4 });
    await waitUntil("bob's receipt at 4", async () => (await receiptOf(channel, "bob")) === 4);
    await second.close();
  });

  it("counts an SSE client's acknowledgement by its connection, only from a request as its user", async () => {
    const channel = fresh();
    const token = await tokenFor("carol");
    const stream = await SseReader.open(`${hub.url}/sse?channel=${channel}&token=${token}`);
    const [connected] = await stream.waitFor("connected");
    await stream.waitFor("subscribed");
    await publish(channel, 2);
    await stream.waitFor("note", 2);
    const connectionId = connected!.data.connectionId as string;
    const stranger = await postJson(`${hub.url}/api/ack?token=${await tokenFor("mallory")}`, { channel, offset: 2, connectionId });
    assert.deepEqual([stranger.status, stranger.body], [200, { counted: false }], "another user cannot acknowledge for carol's connection");
    const beyond = await postJson(`${hub.url}/api/ack?token=${token}`, { channel, offset: 3, connectionId });
    assert.deepEqual(beyond.body, { counted: false }, "offset 3 was never sent");
    const ack = await postJson(`${hub.url}/api/ack?token=${token}`, { channel, offset: 2, connectionId });
    assert.deepEqual([ack.status, ack.body], [200, { counted: true }]);
    assert.equal(await receiptOf(channel, "carol"), 2);
    await stream.close();
  });

  it("counts a polling client's acknowledgement as its user, at a position that exists", async () => {
    const channel = fresh();
    const token = await tokenFor("dave");
    await publish(channel, 2);
    const poll = await getJson(`${hub.url}/api/updates?channel=${channel}&channel=news:today&token=${token}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(poll.body.receipts, [channel], "the poll is told where to acknowledge: its receipts channel, not news:");
    const open = await startHerald({ namespaces: { inbox: { receipts: true } } });
    try {
      const anonymous = await getJson(`${open.url}/api/updates?channel=${channel}`);
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.body.receipts, undefined, "a poll without a user could not acknowledge, so it is not told to");
    } finally {
      await open.close();
    }
    const history = await getJson(`${hub.url}/api/history?channel=${channel}`, BACKEND);
    const epoch = history.body.epoch as string;
    assert.deepEqual((await postJson(`${hub.url}/api/ack?token=${token}`, { channel, offset: 5, epoch })).body, { counted: false }, "offset 5 does not exist");
    assert.deepEqual((await postJson(`${hub.url}/api/ack?token=${token}`, { channel, offset: 2, epoch: "stale" })).body, { counted: false }, "another epoch");
    assert.deepEqual((await postJson(`${hub.url}/api/ack?token=${token}`, { channel, offset: 2, epoch })).body, { counted: true });
    assert.equal(await receiptOf(channel, "dave"), 2);
    const anonymous = await postJson(`${hub.url}/api/ack`, { channel, offset: 1, epoch });
    assert.equal(anonymous.status, 401);
  });

  it("answers receipts to the backend alone, and says where none are kept", async () => {
    const channel = fresh();
    assert.equal((await getJson(`${hub.url}/api/receipts?channel=${channel}`)).status, 401, "no credentials");
    assert.equal((await getJson(`${hub.url}/api/receipts?channel=${channel}`, { authorization: "Bearer wrong-key-0123456789" })).status, 401);
    const off = await getJson(`${hub.url}/api/receipts?channel=news:today`, BACKEND);
    assert.deepEqual([off.status, off.body.error.code], [400, "receipts_off"]);
    const none = await getJson(`${hub.url}/api/receipts?channel=${channel}`, BACKEND);
    assert.deepEqual(none.body.receipts, []);
  });
});
