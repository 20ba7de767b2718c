import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, postJson, startHerald, type RunningHerald } from "./support/herald.js";

describe("WebSocket protocol v1", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { chat: { clientPublish: true } } });
  });
  after(() => hub.close());

  it("greets with connected: connectionId, node and pingInterval", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const connected = await client.next("connected");
    assert.equal(typeof connected.connectionId, "string");
    assert.equal(connected.node, hub.herald.node);
    assert.equal(connected.pingInterval, 25_000);
    await client.close();
  });

  it("subscribes, then receives published events with channel, data, offset, epoch and an ISO timestamp", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const subscribed = await client.subscribe("user:alice", { id: 7 });
    assert.deepEqual({ ...subscribed, epoch: "e" }, { type: "subscribed", id: 7, channel: "user:alice", epoch: "e", offset: 0, recovered: false });
    const published = await postJson(`${hub.url}/api/publish`, { channel: "user:alice", type: "balance_update", data: { total: 5 } });
    assert.equal(published.status, 200);
    const event = await client.next("balance_update");
    assert.deepEqual(event.data, { total: 5 });
    assert.equal(event.channel, "user:alice");
    assert.equal(event.offset, 1);
    assert.equal(event.epoch, subscribed.epoch);
    assert.match(String(event.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await client.close();
  });
});
