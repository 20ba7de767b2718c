/**
 * One hub, two protocols: a Herald SDK subscriber and a pusher-js subscriber on the same channel
 * both receive an event published either way (Herald's POST /api/publish, or the Pusher SDK), and
 * the Herald client keeps history and recovery of what Pusher triggered. Pusher's private channels
 * stay private from Herald's protocol unless the deployment gives their namespace a rule.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Herald } from "../src/index.js";
import { TestClient, getJson, postJson, type RunningHerald } from "../../server/test/support/herald.js";
import { APP, PusherClient, collect, serverSdk, startPusherHerald, until } from "../../server/test/support/pusher.js";

describe("one hub: Herald clients and Pusher clients on the same channels", () => {
  let running: RunningHerald;
  let pusherClient: PusherClient;
  let herald: Herald;
  before(async () => {
    running = await startPusherHerald({ publish: { apiKeys: ["herald-api-key-0123456789"] } });
    pusherClient = await PusherClient.connect(running);
    herald = new Herald({ url: running.url, transports: ["websocket"], WebSocket });
    herald.connect();
  });
  after(async () => {
    pusherClient.disconnect();
    herald.disconnect();
    await running.close();
  });

  it("delivers to both an event published with Herald's API and one triggered with the Pusher SDK", async () => {
    const heraldSeen: Array<{ type: string; data: unknown }> = [];
    const subscription = herald.subscribe(`pusher-${APP.id}:orders`);
    subscription.on("order_update", (data) => heraldSeen.push({ type: "order_update", data }));
    subscription.on("App..Events..OrderShipped", (data) => heraldSeen.push({ type: "App..Events..OrderShipped", data }));
    await until("the Herald subscription", () => subscription.state.status === "subscribed");
    const channel = await pusherClient.subscribe("orders");
    const pusherSeen = [...["order_update", "App\\Events\\OrderShipped"].map((event) => collect(channel, event))];

    const published = await postJson(`${running.url}/api/publish`, { channel: `pusher-${APP.id}:orders`, type: "order_update", data: { id: 1, status: "paid" } }, { authorization: "Bearer herald-api-key-0123456789" });
    assert.equal(published.status, 200);
    await serverSdk(running).trigger("orders", "App\\Events\\OrderShipped", { id: 1 });

    await until("both clients get both events", () => heraldSeen.length === 2 && pusherSeen.every((list) => list.length === 1));
    assert.deepEqual(heraldSeen, [
      { type: "order_update", data: { id: 1, status: "paid" } },
      { type: "App..Events..OrderShipped", data: { id: 1 } },
    ]);
    assert.deepEqual(pusherSeen.map((list) => list[0]!.data), [{ id: 1, status: "paid" }, { id: 1 }]);

    // What Pusher triggered is in the channel's history, with offsets, for recovery.
    const history = await getJson(`${running.url}/api/history?channel=pusher-${APP.id}:orders`);
    assert.deepEqual(history.body.events.map((event: { type: string; offset: number }) => [event.type, event.offset]), [["order_update", 1], ["App..Events..OrderShipped", 2]]);
  });

  it("recovers events triggered with the Pusher SDK for a Herald client that comes back with since", async () => {
    const first = await TestClient.open(`${running.wsUrl}/ws`);
    const subscribed = await first.subscribe(`pusher-${APP.id}:feed`);
    await first.close();
    const sdk = serverSdk(running);
    await sdk.trigger("feed", "item", { n: 1 });
    await sdk.trigger("feed", "item", { n: 2 });
    const back = await TestClient.open(`${running.wsUrl}/ws`);
    const resumed = await back.subscribe(`pusher-${APP.id}:feed`, { since: { epoch: subscribed.epoch, offset: subscribed.offset } });
    assert.equal(resumed.recovered, true);
    const items = await back.take(2, "item");
    assert.deepEqual(items.map((frame) => frame.data), [{ n: 1 }, { n: 2 }]);
    await back.close();
  });

  it("keeps Pusher's private and presence channels from Herald clients unless their namespace has a subscribe rule", async () => {
    const client = await TestClient.open(`${running.wsUrl}/ws`);
    const refused = await client.subscribe(`pusher-${APP.id}-private:private-orders`);
    assert.equal(refused.type, "error");
    assert.equal(refused.code, "forbidden");
    const presence = await client.subscribe(`pusher-${APP.id}-presence:presence-room`);
    assert.equal(presence.code, "forbidden");
    assert.equal((await getJson(`${running.url}/api/history?channel=pusher-${APP.id}-private:private-orders`)).status, 403);
    await client.close();
  });
});
