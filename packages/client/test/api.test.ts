import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { deadline } from "../../server/test/support/deadline.js";
import { Herald, HeraldError } from "../src/index.js";
import { waitForState } from "./support/wait.js";

describe("client publish, history and presence", () => {
  let hub: RunningHerald;
  let client: Herald;
  before(async () => {
    hub = await startHerald({ namespaces: { chat: { clientPublish: true, presence: true } } });
    client = new Herald({ url: hub.url, WebSocket });
    const connected = waitForState(client, "connected");
    client.connect();
    await connected;
  });
  after(async () => {
    client.disconnect();
    await hub.close();
  });

  it("publishes from the client and resolves with the published frame; subscribers get the event", async () => {
    const room = client.subscribe<{ message: { text: string } }>("chat:lobby");
    await deadline(new Promise((resolve) => room.on("subscribed", resolve)), "the subscription to chat:lobby");
    const received = deadline(new Promise<string>((resolve) => room.on("message", (data) => resolve(data.text))), "the message on chat:lobby");
    const published = await client.publish("chat:lobby", "message", { text: "hello" });
    assert.equal(published.type, "published");
    assert.equal(published.channel, "chat:lobby");
    assert.equal(published.offset, 1);
    assert.equal(await received, "hello");
    room.unsubscribe();
  });

  it("rejects a publish the namespace forbids with the server's code", async () => {
    await assert.rejects(client.publish("user:alice", "balance_update", {}), (error: unknown) => error instanceof HeraldError && error.code === "publish_forbidden");
  });

  it("reads history and presence over HTTP", async () => {
    await hub.herald.publish("chat:history", "message", { text: "one" });
    await hub.herald.publish("chat:history", "message", { text: "two" });
    const history = await client.history<{ text: string }>("chat:history", { since: 1 });
    assert.deepEqual(history.events.map((event) => event.data.text), ["two"]);
    assert.equal(history.offset, 2);
    const presence = await client.presence("chat:lobby");
    assert.equal(presence.channel, "chat:lobby");
    await assert.rejects(client.presence("user:alice"), (error: unknown) => error instanceof HeraldError && error.code === "forbidden" && error.status === 403);
  });
});
