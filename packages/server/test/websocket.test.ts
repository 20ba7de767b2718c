import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FORMATS, TestClient, getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SECRET, hs256, rawSocket, readUntilClosed } from "./security/attack-support.js";

// The whole table runs in both encodings: JSON text frames and MessagePack binary frames.
for (const format of FORMATS) {
  describe(`WebSocket protocol v1: frames (${format})`, () => {
    let hub: RunningHerald;
    before(async () => {
      hub = await startHerald({ namespaces: { chat: { clientPublish: true, presence: true } } });
    });
    after(() => hub.close());

    it("greets with connected: connectionId, node and pingInterval", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const connected = await client.next("connected");
      assert.equal(typeof connected.connectionId, "string");
      assert.equal(connected.node, hub.herald.node);
      assert.equal(connected.pingInterval, 25_000);
      await client.close();
    });

    it("subscribes, then receives published events with channel, data, offset, epoch and an ISO timestamp", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const subscribed = await client.subscribe("user:alice", { id: 7 });
      assert.deepEqual({ ...subscribed, epoch: "e" }, { type: "subscribed", id: 7, channel: "user:alice", epoch: "e", offset: 0, recovered: false });
      const published = await postJson(`${hub.url}/api/publish`, { channel: "user:alice", type: "balance_update", data: { total: 5 } });
      assert.equal(published.status, 200);
      assert.equal(published.body.published[0].offset, 1);
      const event = await client.next("balance_update");
      assert.deepEqual(event.data, { total: 5 });
      assert.equal(event.channel, "user:alice");
      assert.equal(event.offset, 1);
      assert.equal(event.epoch, subscribed.epoch);
      assert.match(String(event.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await client.close();
    });

    it("holds many subscriptions per connection and delivers each channel's events", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await client.subscribe("topic:a");
      await client.subscribe("topic:b");
      await hub.herald.publish("topic:a", "news", { n: 1 });
      await hub.herald.publish("topic:b", "news", { n: 2 });
      const events = await client.take(2, "news");
      assert.deepEqual(events.map((e) => [e.channel, (e.data as { n: number }).n]), [["topic:a", 1], ["topic:b", 2]]);
      await client.close();
    });

    it("delivers to every connection of the same user (phone, laptop, tabs)", async () => {
      const devices = await Promise.all([1, 2, 3].map(() => TestClient.open(`${hub.wsUrl}/ws`, { format })));
      for (const device of devices) await device.subscribe("user:bob");
      await hub.herald.publish("user:bob", "transaction_confirmed", { id: "t1" });
      for (const device of devices) assert.deepEqual((await device.next("transaction_confirmed")).data, { id: "t1" });
      await Promise.all(devices.map((d) => d.close()));
    });

    it("answers unsubscribe with unsubscribed and stops delivering", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await client.subscribe("topic:u");
      client.send({ type: "unsubscribe", id: "u1", channel: "topic:u" });
      assert.deepEqual(await client.next("unsubscribed"), { type: "unsubscribed", id: "u1", channel: "topic:u" });
      await hub.herald.publish("topic:u", "after", {});
      // A ping round trip proves the server handled everything sent before it.
      client.send({ type: "ping" });
      await client.next("pong");
      assert.equal(client.frames.some((f) => f.type === "after"), false);
      await client.close();
    });

    it("answers a client ping with pong", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      client.send({ type: "ping" });
      assert.deepEqual(await client.next("pong"), { type: "pong" });
      await client.close();
    });

    it("accepts pong and auth frames without complaint", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      client.send({ type: "pong" });
      client.send({ type: "auth", token: "anything" });
      client.send({ type: "ping" });
      await client.next("pong");
      assert.equal(client.frames.some((f) => f.type === "error"), false);
      await client.close();
    });

    it("lets clients publish where the namespace allows it, and answers published", async () => {
      const reader = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await reader.subscribe("chat:room1");
      const writer = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      writer.send({ type: "publish", id: 3, channel: "chat:room1", event: "message", data: { text: "hi" } });
      const ack = await writer.next("published");
      assert.equal(ack.id, 3);
      assert.equal(ack.channel, "chat:room1");
      assert.equal(typeof ack.offset, "number");
      assert.deepEqual((await reader.next("message")).data, { text: "hi" });
      await Promise.all([reader.close(), writer.close()]);
    });

    it("refuses client publish where the namespace does not allow it", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      client.send({ type: "publish", id: 4, channel: "user:alice", event: "x", data: 1 });
      const error = await client.next("error");
      assert.equal(error.code, "publish_forbidden");
      assert.equal(error.id, 4);
      await client.close();
    });

    it("lists subscribers of a presence namespace at /api/presence", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const connected = await client.next("connected");
      await client.subscribe("chat:lobby");
      const presence = (await getJson(`${hub.url}/api/presence?channel=chat:lobby`)).body;
      assert.equal(presence.count, 1);
      assert.equal(presence.clients[0].connectionId, connected.connectionId);
      assert.equal(presence.clients[0].transport, "websocket");
      await client.close();
    });
  });

  describe(`a forbidden subscribe (${format})`, () => {
    it("is answered by an error frame with the subscribe's id, and the connection and its other subscriptions carry on", async () => {
      const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, namespaces: { user: { personal: true } } });
      try {
        const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "alice" }, { expiresIn: "1h" })}`, { format });
        assert.equal((await client.subscribe("user:alice")).type, "subscribed");
        assert.equal((await client.subscribe("topic:news")).type, "subscribed");
        client.send({ type: "subscribe", id: "bob-1", channel: "user:bob" });
        const refused = await client.next("error");
        assert.deepEqual({ type: refused.type, id: refused.id, code: refused.code }, { type: "error", id: "bob-1", code: "forbidden" });
        assert.match(String(refused.message), /user:bob/);
        await hub.herald.publish("user:alice", "balance_update", { total: 1 });
        await hub.herald.publish("topic:news", "headline", { n: 1 });
        assert.deepEqual((await client.next("balance_update")).data, { total: 1 });
        assert.deepEqual((await client.next("headline")).data, { n: 1 });
        client.send({ type: "ping" });
        await client.next("pong");
        assert.equal(client.closeCode, undefined, "the connection is still open");
        await client.close();
      } finally {
        await hub.close();
      }
    });
  });

  describe(`channel turnover (${format})`, () => {
    it("a channel left and re-joined at once keeps delivering (a late engine unsubscribe cannot cancel the new one)", async () => {
      const hub = await startHerald();
      const first = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await first.subscribe("topic:turnover");
      const closing = first.close();
      const second = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await closing;
      await second.subscribe("topic:turnover");
      await hub.herald.publish("topic:turnover", "still", { ok: true });
      assert.deepEqual((await second.next("still")).data, { ok: true });
      await second.close();
      await hub.close();
    });
  });

  describe(`request order (${format})`, () => {
    it("handles a connection's frames in the order sent: auth takes effect before the subscribe after it", async () => {
      const authorizer = {
        async authenticate(session: { user: string | undefined }, token: string) {
          // A token check that takes a while (a JWKS fetch, say).
          await new Promise((resolve) => setTimeout(resolve, 50));
          session.user = token;
        },
        async authorizeSubscribe(session: { user: string | undefined }, channel: string) {
          if (channel !== `user:${session.user}`) throw new (await import("@herald/server")).HeraldError("forbidden", "not your channel");
        },
        async authorizePublish() {},
      };
      const hub = await startHerald({}, { authorizer });
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      client.send({ type: "auth", token: "dana" });
      client.send({ type: "subscribe", channel: "user:dana" });
      const answer = await client.next((f) => f.type === "subscribed" || f.type === "error");
      assert.equal(answer.type, "subscribed");
      await client.close();
      await hub.close();
    });
  });
}

describe("the opening handshake", () => {
  it("refuses an HTTP/1.0 upgrade with 400 unsupported_http_version (RFC 6455 needs HTTP/1.1)", async () => {
    const hub = await startHerald();
    try {
      const socket = await rawSocket(hub);
      const received = readUntilClosed(socket);
      socket.write(
        "GET /ws HTTP/1.0\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      // A 101 would keep the socket open: stop reading once the head and a first frame could be there.
      const first = await new Promise<string>((resolve) => socket.once("data", (chunk: Buffer) => resolve(chunk.toString())));
      if (first.startsWith("HTTP/1.1 101")) socket.destroy();
      const answer = (await received).toString() || first;
      assert.match(answer, /^HTTP\/1\.1 400 /, answer.slice(0, 120));
      const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      assert.equal(body.error.code, "unsupported_http_version");
      assert.match(body.error.message, /HTTP\/1\.1/);
      // The same request as HTTP/1.1 is upgraded.
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      assert.equal((await client.next("connected")).type, "connected");
      await client.close();
    } finally {
      await hub.close();
    }
  });
});
