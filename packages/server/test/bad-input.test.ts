import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";

/** Every bad input gets its documented code; recoverable ones keep the connection, and nobody else notices. */
describe("bad input over a real WebSocket", () => {
  let hub: RunningHerald;
  let bystander: TestClient;
  let bystanderEvents = 0;

  before(async () => {
    hub = await startHerald({ maxPayload: "4KiB" });
    bystander = await TestClient.open(`${hub.wsUrl}/ws`);
    await bystander.subscribe("user:bystander");
  });

  after(async () => {
    // The honest client alongside received every event published while the others misbehaved.
    const event = await hub.herald.publish("user:bystander", "still_here", { n: ++bystanderEvents });
    const frame = await bystander.next("still_here");
    assert.equal(frame.offset, event.offset);
    await bystander.close();
    await hub.close();
  });

  async function expectError(frame: unknown, code: string): Promise<TestClient> {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    client.send(frame);
    const error = await client.next("error");
    assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
    assert.equal(typeof error.message, "string");
    assert.ok(String(error.message).length > 0);
    // The connection is still usable.
    client.send({ type: "ping" });
    await client.next("pong");
    await hub.herald.publish("user:bystander", "tick", { n: ++bystanderEvents });
    await bystander.next("tick");
    return client;
  }

  it("non-JSON frame → invalid_json", async () => {
    await (await expectError("not json {", "invalid_json")).close();
  });

  it("JSON that is not an object → invalid_frame", async () => {
    await (await expectError("[1,2,3]", "invalid_frame")).close();
  });

  it("unknown type → unknown_type", async () => {
    await (await expectError({ type: "dance" }, "unknown_type")).close();
  });

  it("missing type → invalid_frame", async () => {
    await (await expectError({ channel: "x" }, "invalid_frame")).close();
  });

  it("missing channel → invalid_frame", async () => {
    await (await expectError({ type: "subscribe" }, "invalid_frame")).close();
  });

  it("mistyped channel → invalid_frame", async () => {
    await (await expectError({ type: "subscribe", channel: 42 }, "invalid_frame")).close();
  });

  it("channel with spaces → invalid_channel", async () => {
    await (await expectError({ type: "subscribe", channel: "no spaces please" }, "invalid_channel")).close();
  });

  it("channel over 255 characters → invalid_channel", async () => {
    await (await expectError({ type: "subscribe", channel: "a".repeat(256) }, "invalid_channel")).close();
  });

  it("mistyped since → invalid_since", async () => {
    await (await expectError({ type: "subscribe", channel: "user:x", since: { epoch: 1, offset: "2" } }, "invalid_since")).close();
  });

  it("since with a future offset in the current epoch → invalid_since", async () => {
    const probe = await TestClient.open(`${hub.wsUrl}/ws`);
    const subscribed = await probe.subscribe("user:future");
    await probe.close();
    await (await expectError({ type: "subscribe", channel: "user:future", since: { epoch: subscribed.epoch, offset: 99 } }, "invalid_since")).close();
  });

  it("since with a foreign epoch → subscribed with recovered: false and the current position", async () => {
    await hub.herald.publish("user:epoch", "e", 1);
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const subscribed = await client.subscribe("user:epoch", { since: { epoch: "not-this-one", offset: 0 } });
    assert.equal(subscribed.type, "subscribed");
    assert.equal(subscribed.recovered, false);
    assert.equal(subscribed.offset, 1);
    await client.close();
  });

  it("subscribing twice → already_subscribed", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    await client.subscribe("user:twice");
    client.send({ type: "subscribe", channel: "user:twice", id: "again" });
    const error = await client.next("error");
    assert.equal(error.code, "already_subscribed");
    assert.equal(error.id, "again");
    await client.close();
  });

  it("unsubscribe from a channel not subscribed → not_subscribed", async () => {
    await (await expectError({ type: "unsubscribe", channel: "user:never" }, "not_subscribed")).close();
  });

  it("publish of an event named like a control frame → reserved_event_type", async () => {
    await (await expectError({ type: "publish", channel: "user:x", event: "subscribed", data: {} }, "reserved_event_type")).close();
  });

  it("binary frame → invalid_frame", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await client.next("error")).code, "invalid_frame");
    await client.close();
  });

  it("a frame over maxPayload closes the connection with 1009, and only that one", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    await client.next("connected");
    client.send({ type: "subscribe", channel: "user:big", token: "x".repeat(8 * 1024) });
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    await hub.herald.publish("user:bystander", "tick", { n: ++bystanderEvents });
    await bystander.next("tick");
  });

  it("a connection to an unknown path is refused with 404", async () => {
    await assert.rejects(TestClient.open(`${hub.wsUrl}/nowhere`), /404/);
  });
});

describe("bad input over real HTTP", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ publish: { maxBodyBytes: "2KiB" } });
  });
  after(() => hub.close());

  const publish = (body: unknown, headers?: Record<string, string>) => postJson(`${hub.url}/api/publish`, body, headers);

  for (const [name, body, status, code] of [
    ["malformed JSON", "{nope", 400, "invalid_json"],
    ["an array body", "[]", 400, "invalid_body"],
    ["no channel", { type: "t", data: 1 }, 400, "invalid_body"],
    ["no data", { channel: "c", type: "t" }, 400, "invalid_body"],
    ["a bad channel", { channel: "a b", type: "t", data: 1 }, 400, "invalid_channel"],
    ["an empty channels list", { channels: [], type: "t", data: 1 }, 400, "invalid_body"],
    ["a reserved event type", { channel: "c", type: "ping", data: 1 }, 400, "reserved_event_type"],
    ["an invalid event type", { channel: "c", type: "has space", data: 1 }, 400, "invalid_event_type"],
    ["a body over the limit", { channel: "c", type: "t", data: "x".repeat(4096) }, 413, "payload_too_large"],
  ] as const) {
    it(`publish with ${name} → ${status} ${code}`, async () => {
      const response = await publish(body);
      assert.equal(response.status, status);
      assert.equal(response.body.error.code, code);
      assert.equal(typeof response.body.error.message, "string");
    });
  }

  it("publish with a non-JSON content type → 415 unsupported_media_type", async () => {
    const response = await fetch(`${hub.url}/api/publish`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
    assert.equal(response.status, 415);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "unsupported_media_type");
  });

  it("a bad batch publishes nothing", async () => {
    const response = await publish({ events: [{ channel: "batch:1", type: "ok", data: 1 }, { channel: "batch:1", type: "error", data: 2 }] });
    assert.equal(response.status, 400);
    const history = await getJson(`${hub.url}/api/history?channel=batch:1`);
    assert.equal(history.body.events.length, 0);
  });

  it("polling with a bad cursor → 400 invalid_cursor; without a channel → 400 invalid_param", async () => {
    const bad = await getJson(`${hub.url}/api/updates?channel=x&since=@@@`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_cursor");
    const none = await getJson(`${hub.url}/api/updates`);
    assert.equal(none.status, 400);
    assert.equal(none.body.error.code, "invalid_param");
  });

  it("an unknown route → 404 not_found", async () => {
    const response = await getJson(`${hub.url}/api/nothing-here`);
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, "not_found");
  });
});
