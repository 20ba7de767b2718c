/**
 * The MessagePack encoding of the WebSocket protocol, beyond the frames table that
 * websocket.test.ts runs in both encodings: how a connection asks for it, what a bad frame gets,
 * recovery, receipts, the latest value at once, server-side subscriptions and disconnects,
 * routes, and one event reaching JSON and MessagePack subscribers alike. Every TestClient in
 * `msgpack` format fails its close() if any frame reached it as text.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { encode } from "@msgpack/msgpack";
import { TestClient, getJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SECRET, hs256, upgradeStatus } from "./security/attack-support.js";

describe("MessagePack: negotiation", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald();
  });
  after(() => hub.close());

  it("?format=msgpack: every frame is a binary MessagePack map, connected first", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?format=msgpack`, { format: "msgpack" });
    const connected = await client.next("connected");
    assert.equal(typeof connected.connectionId, "string");
    assert.equal(connected.pingInterval, 25_000);
    assert.equal(client.binaryFrames, 1);
    assert.equal(client.textFrames, 0);
    await client.close();
  });

  it("the herald.msgpack subprotocol asks for it too, and is answered with it", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`, { format: "msgpack", protocols: ["other.v1", "herald.msgpack"] });
    assert.equal(client.socket.protocol, "herald.msgpack");
    await client.next("connected");
    client.send({ type: "ping" });
    assert.deepEqual(await client.next("pong"), { type: "pong" });
    assert.equal(client.textFrames, 0);
    await client.close();
  });

  it("JSON stays the default; herald.json and format=json name it, and an unknown subprotocol is echoed as before", async () => {
    for (const [path, protocols, answered] of [["/ws", undefined, ""], ["/ws?format=json", undefined, ""], ["/ws", ["herald.json"], "herald.json"], ["/ws", ["seed.v1"], "seed.v1"]] as const) {
      const client = await TestClient.open(`${hub.wsUrl}${path}`, protocols ? { protocols: [...protocols] } : {});
      await client.next("connected");
      assert.equal(client.socket.protocol, answered, path);
      assert.equal(client.binaryFrames, 0, `${path} ${protocols}: text frames only`);
      await client.close();
    }
  });

  it("refuses a format it does not speak, or a URL and a subprotocol that disagree, before the upgrade (400 invalid_param)", async () => {
    const unknown = await upgradeStatus(hub, "/ws?format=xml");
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /"code":"invalid_param".*format must be \\"json\\" or \\"msgpack\\"/);
    const both = await upgradeStatus(hub, "/ws?format=json", { "Sec-WebSocket-Protocol": "herald.msgpack" });
    assert.equal(both.status, 400);
    assert.match(both.text, /contradicts the herald\.msgpack subprotocol/);
  });
});

describe("MessagePack: bad frames get an error frame in MessagePack, and the connection goes on", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { chat: { clientPublish: true } } });
  });
  after(() => hub.close());

  const cases: Array<[string, (client: TestClient) => void, string, RegExp]> = [
    ["a text frame", (c) => c.socket.send('{"type":"ping"}'), "invalid_frame", /speaks MessagePack.*binary frame/],
    ["bytes that are not MessagePack", (c) => c.socket.send(Buffer.from([0xc1])), "invalid_msgpack", /not valid MessagePack/],
    ["a truncated map", (c) => c.socket.send(Buffer.from([0x82, 0xa4])), "invalid_msgpack", /not valid MessagePack/],
    ["two values in one frame", (c) => c.socket.send(Buffer.concat([encode({ type: "ping" }), encode({ type: "ping" })])), "invalid_msgpack", /not valid MessagePack/],
    ["binary data in a publish", (c) => c.send({ type: "publish", channel: "chat:x", event: "m", data: new Uint8Array([1, 2]) }), "invalid_msgpack", /no JSON form/],
    ["an extension type", (c) => c.socket.send(Buffer.from([0x81, 0xa4, ...Buffer.from("type"), 0xd4, 0x05, 0x01])), "invalid_msgpack", /not valid MessagePack/],
    ["an array instead of a map", (c) => c.send(["subscribe", "chat:x"]), "invalid_frame", /string `type`/],
    ["an unknown type", (c) => c.send({ type: "shout", id: "s1" }), "unknown_type", /unknown frame type "shout"/],
    ["a bad channel", (c) => c.send({ type: "subscribe", id: 2, channel: "no spaces" }), "invalid_channel", /./],
    ["a bad since", (c) => c.send({ type: "subscribe", channel: "chat:x", since: { epoch: "e", offset: -1 } }), "invalid_since", /since.offset/],
  ];
  for (const [what, send, code, message] of cases) {
    it(`${what}: ${code}`, async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format: "msgpack" });
      await client.next("connected");
      send(client);
      const error = await client.next("error");
      assert.equal(error.code, code);
      assert.match(String(error.message), message);
      client.send({ type: "ping" });
      await client.next("pong");
      assert.equal(client.closeCode, undefined);
      await client.close();
    });
  }
});

const API_KEY = "msgpack-test-api-key-0123456789";

describe("MessagePack: recovery, receipts, the latest value, server-side subscriptions", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ auth: { jwt: { secret: SECRET } }, publish: { apiKeys: [API_KEY] }, namespaces: { inbox: { receipts: true }, prices: { cache: true }, team: {} } });
  });
  after(() => hub.close());
  const open = async (user = "ann"): Promise<TestClient> => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: user }, { expiresIn: "1h" })}`, { format: "msgpack" });
    await client.next("connected");
    return client;
  };

  it("recovers what came after `since`, in order, exactly once; another epoch is recovered: false", async () => {
    const first = await hub.herald.publish("team:r", "note", { n: 1 });
    await hub.herald.publish("team:r", "note", { n: 2 });
    await hub.herald.publish("team:r", "note", { n: 3 });
    const client = await open();
    const subscribed = await client.subscribe("team:r", { id: "r", since: { epoch: first.epoch, offset: 1 } });
    assert.deepEqual({ ...subscribed, epoch: "e" }, { type: "subscribed", id: "r", channel: "team:r", epoch: "e", offset: 3, recovered: true });
    const events = await client.take(2, "note");
    assert.deepEqual(events.map((e) => [e.offset, e.data]), [[2, { n: 2 }], [3, { n: 3 }]]);
    await hub.herald.publish("team:r", "note", { n: 4 });
    assert.equal((await client.next("note")).offset, 4);
    const stale = await client.subscribe("team:r2", { since: { epoch: "gone", offset: 5 } });
    assert.equal(stale.recovered, false);
    await client.close();
  });

  it("subscribed says receipts: true, and an ack in MessagePack is kept", async () => {
    const client = await open("ben");
    assert.equal((await client.subscribe("inbox:ben")).receipts, true);
    await hub.herald.publish("inbox:ben", "mail", { n: 1 });
    await hub.herald.publish("inbox:ben", "mail", { n: 2 });
    await client.take(2, "mail");
    client.send({ type: "ack", channel: "inbox:ben", offset: 2 });
    client.send({ type: "ping" });
    await client.next("pong");
    const receipts = await getJson(`${hub.url}/api/receipts?channel=inbox:ben&user=ben`, { authorization: `Bearer ${API_KEY}` });
    assert.equal(receipts.status, 200, JSON.stringify(receipts.body));
    assert.equal(receipts.body.receipts[0].offset, 2);
    await client.close();
  });

  it("a cache namespace answers cache: hit and the latest event follows", async () => {
    await hub.herald.publish("prices:btc", "price", { usd: 100 });
    const client = await open();
    const subscribed = await client.subscribe("prices:btc");
    assert.equal(subscribed.cache, "hit");
    assert.deepEqual((await client.next("price")).data, { usd: 100 });
    await client.close();
  });

  it("the backend subscribes, unsubscribes and disconnects the user: subscribed, unsubscribed, error and 4510", async () => {
    const client = await open("cid");
    client.send({ type: "auth", token: await hs256({ sub: "cid" }, { expiresIn: "1h" }) });
    client.send({ type: "ping" });
    await client.next("pong");
    assert.equal((await hub.herald.subscribe("cid", "team:7")).connections, 1);
    const subscribed = await client.next("subscribed");
    assert.equal(subscribed.channel, "team:7");
    assert.equal(subscribed.id, undefined);
    await hub.herald.publish("team:7", "goal", { by: "x" });
    assert.deepEqual((await client.next("goal")).data, { by: "x" });
    await hub.herald.unsubscribe("cid", "team:7", "moved teams");
    assert.deepEqual(await client.next("unsubscribed"), { type: "unsubscribed", channel: "team:7", code: "server_unsubscribe", reason: "moved teams" });
    await hub.herald.disconnect("cid", { reason: "signed out" });
    const error = await client.next("error");
    assert.deepEqual({ code: error.code, message: error.message }, { code: "disconnected", message: "signed out" });
    assert.deepEqual(await client.closed, { code: 4510, reason: "signed out" });
    assert.equal(client.textFrames, 0);
  });

  it("a bad token ends the connection with an error frame in MessagePack and 4501", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`, { format: "msgpack" });
    await client.next("connected");
    client.send({ type: "auth", token: "not-a-jwt" });
    assert.equal((await client.next("error")).code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
    assert.equal(client.textFrames, 0);
  });
});

describe("MessagePack: one event, JSON and MessagePack subscribers", () => {
  it("both get the same fields; MessagePack frames are smaller", async () => {
    const hub = await startHerald();
    try {
      const json = await TestClient.open(`${hub.wsUrl}/ws`);
      const packed = await TestClient.open(`${hub.wsUrl}/ws`, { format: "msgpack" });
      let jsonBytes = 0;
      let packedBytes = 0;
      json.socket.on("message", (data: Buffer) => (jsonBytes = data.length));
      packed.socket.on("message", (data: Buffer) => (packedBytes = data.length));
      await json.subscribe("user:dee");
      await packed.subscribe("user:dee");
      await hub.herald.publish("user:dee", "balance_update", { total: 1234.5, currency: "USDC", positions: [{ market: "BTC", size: 2 }], note: null, open: true });
      const [a, b] = [await json.next("balance_update"), await packed.next("balance_update")];
      assert.deepEqual(b, a);
      assert.ok(packedBytes < jsonBytes, `${packedBytes} < ${jsonBytes}`);
      // The namespace's bytes figure counts each frame as its subscriber received it.
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      const line = metrics.split("\n").find((text) => text.startsWith('herald_namespace_bytes_sent_total{namespace="user"'));
      assert.equal(Number(line?.slice(line.lastIndexOf(" ") + 1)), jsonBytes + packedBytes);
      await Promise.all([json.close(), packed.close()]);
    } finally {
      await hub.close();
    }
  });
});

describe("MessagePack with permessage-deflate", () => {
  it("events go through ws's compressing sender as binary MessagePack frames", async () => {
    const hub = await startHerald({ websocket: { perMessageDeflate: { threshold: 64, concurrencyLimit: 10 } } });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format: "msgpack", perMessageDeflate: true });
      assert.match(client.socket.extensions, /permessage-deflate/);
      await client.subscribe("user:zip");
      const data = { text: "compress me ".repeat(20), n: 1 };
      await hub.herald.publish("user:zip", "long", data);
      assert.deepEqual((await client.next("long")).data, data);
      await client.close();
    } finally {
      await hub.close();
    }
  });
});

describe("MessagePack on a route", () => {
  it("a route's envelope is kept: flat events as maps with the data's fields next to type", async () => {
    const hub = await startHerald({ routes: [{ path: "/ws/feed/{user}", subscribe: ["user:{user}"], envelope: "flat" }] });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws/feed/eve?format=msgpack`, { format: "msgpack" });
      assert.equal((await client.next("subscribed")).channel, "user:eve");
      await hub.herald.publish("user:eve", "anchor_update", { anchor: "a1", height: 7 });
      assert.deepEqual(await client.next("anchor_update"), { type: "anchor_update", anchor: "a1", height: 7 });
      await client.close();
    } finally {
      await hub.close();
    }
  });

  it("a bad route parameter: error frame and 4500 in MessagePack", async () => {
    const hub = await startHerald({ routes: [{ path: "/ws/feed/{user}", subscribe: ["user:{user}"], params: { user: { pattern: "^[a-z]+$", message: "user must be lowercase letters" } } }] });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws/feed/E1?format=msgpack`, { format: "msgpack" });
      const error = await client.next("error");
      assert.deepEqual({ code: error.code, message: error.message }, { code: "invalid_param", message: "user must be lowercase letters" });
      assert.equal((await client.closed).code, 4500);
      assert.equal(client.textFrames, 0);
    } finally {
      await hub.close();
    }
  });
});

describe("MessagePack heartbeat", () => {
  it("the server's ping is a MessagePack map too", async () => {
    const hub = await startHerald({ pingInterval: 200 });
    try {
      const socket = new WebSocket(`${hub.wsUrl}/ws?format=msgpack`);
      const [data, isBinary] = (await once(socket, "message")) as [Buffer, boolean];
      assert.equal(isBinary, true);
      const pinged = await new Promise<[Buffer, boolean]>((resolve) => socket.on("message", (d: Buffer, b: boolean) => resolve([d, b])));
      assert.equal(pinged[1], true);
      assert.deepEqual(pinged[0], Buffer.from(encode({ type: "ping" })));
      assert.ok(data.length > 0);
      socket.close();
      await once(socket, "close");
    } finally {
      await hub.close();
    }
  });
});
