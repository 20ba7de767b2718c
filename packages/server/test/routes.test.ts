import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig } from "@herald/server";
import { TestClient, startHerald, type RunningHerald } from "./support/herald.js";
import { waitUntil } from "./support/deadline.js";

const exampleConfig = (name: string) => loadConfig({ file: fileURLToPath(new URL(`../../../examples/${name}/herald.yaml`, import.meta.url)), env: {} });

async function withExample(name: string, run: (hub: RunningHerald) => Promise<void>): Promise<void> {
  const { routes, namespaces, pingInterval } = exampleConfig(name);
  const hub = await startHerald({ routes, namespaces, pingInterval });
  try {
    await run(hub);
  } finally {
    await hub.close();
  }
}

describe("routes: the five seed systems' URLs, from examples/*/herald.yaml", () => {
  it("seed 1: /api/ws/{address} subscribes to user:<address>; a bad address gets 'Invalid user address'", async () => {
    await withExample("bridge-status", async (hub) => {
      const address = "0x52908400098527886E0F7030069857D2E4169EE7";
      const client = await TestClient.open(`${hub.wsUrl}/api/ws/${address}`);
      const subscribed = await client.next("subscribed");
      assert.equal(subscribed.channel, `user:${address}`);
      await hub.herald.publish(`user:${address}`, "cas_deposit_update", { id: 1, status: "completed" });
      const event = await client.next("cas_deposit_update");
      assert.deepEqual(event.data, { id: 1, status: "completed" });
      await client.close();

      const bad = await TestClient.open(`${hub.wsUrl}/api/ws/0x1234`);
      const error = await bad.next("error");
      assert.equal(error.code, "invalid_param");
      assert.equal(error.message, "Invalid user address");
      const closed = await bad.closed;
      assert.equal(closed.code, 4500);
      assert.equal(closed.reason, "Invalid user address");
    });
  });

  it("seed 2: /ws/bet-updates?user_id= gets that user's bets in the seed's flat shape; without user_id the public feed", async () => {
    await withExample("bet-resolutions", async (hub) => {
      const mine = await TestClient.open(`${hub.wsUrl}/ws/bet-updates?user_id=test123`);
      assert.equal((await mine.next("subscribed")).channel, "bets:user:test123");
      const everyone = await TestClient.open(`${hub.wsUrl}/ws/bet-updates`);
      assert.equal((await everyone.next("subscribed")).channel, "bets:all");
      const update = { bet_id: "123", user_id: "test123", data: { status: "settled", result: "win" }, timestamp: "2024-01-15T10:30:00Z" };
      await hub.herald.publish("bets:user:test123", "bet_resolved", update);
      assert.deepEqual(await mine.next("bet_resolved"), { type: "bet_resolved", ...update });
      const bad = await TestClient.open(`${hub.wsUrl}/ws/bet-updates?user_id=${encodeURIComponent("<script>")}`);
      assert.equal((await bad.next("error")).message, "Invalid user_id");
      await Promise.all([mine.close(), everyone.close()]);
    });
  });

  it("seed 2 with receipts: envelope flat-ack adds channel and offset to the flat frame, and an ack naming them counts", async () => {
    const { routes, namespaces } = exampleConfig("bet-resolutions");
    const hub = await startHerald({ routes: routes.map((route) => ({ ...route, envelope: "flat-ack" as const })), namespaces: { ...namespaces, bets: { ...namespaces.bets!, receipts: true } } });
    try {
      const mine = await TestClient.open(`${hub.wsUrl}/ws/bet-updates?user_id=test123`);
      assert.equal((await mine.next("subscribed")).receipts, true);
      const update = { bet_id: "123", user_id: "test123", data: { status: "settled", result: "win" }, timestamp: "2024-01-15T10:30:00Z" };
      await hub.herald.publish("bets:user:test123", "bet_resolved", { ...update, channel: "not the channel" });
      const frame = await mine.next("bet_resolved");
      assert.deepEqual(frame, { type: "bet_resolved", ...update, channel: "bets:user:test123", offset: 1 }, "Herald's channel replaces a data field of that name");
      mine.send({ type: "ack", channel: frame.channel, offset: frame.offset });
      await waitUntil("test123's receipt at 1", async () => (await hub.herald.hub.receipts.highest("bets:user:test123", (await hub.herald.hub.history("bets:user:test123", {})).epoch, "test123")) === 1);
      await mine.close();
    } finally {
      await hub.close();
    }
  });

  it("seed 3: /ws/{pubkey} on two devices, frames keyed event", async () => {
    await withExample("vault-balances", async (hub) => {
      const pubkey = "HjxQC5jmM8JQrKmVLz29fvaVU428BQ3NzM7a3uQECt9m";
      const phone = await TestClient.open(`${hub.wsUrl}/ws/${pubkey}`);
      const laptop = await TestClient.open(`${hub.wsUrl}/ws/${pubkey}`);
      await phone.next("subscribed");
      await laptop.next("subscribed");
      const balance = { owner: pubkey, totalBalance: 1_000_000_000, lockedBalance: 200_000_000, availableBalance: 800_000_000 };
      await hub.herald.publish(`vault:${pubkey}`, "balance_update", balance);
      for (const device of [phone, laptop]) {
        const frame = await device.next((f) => f.event === "balance_update");
        assert.deepEqual(frame.data, balance);
        assert.equal(frame.type, undefined);
        assert.equal(typeof frame.timestamp, "string");
      }
      await Promise.all([phone.close(), laptop.close()]);
    });
  });

  it("seed 4: /api/v1/ws/coindcx reaches every monitor tab", async () => {
    await withExample("exchange-feed", async (hub) => {
      const tabs = await Promise.all([1, 2].map(() => TestClient.open(`${hub.wsUrl}/api/v1/ws/coindcx`)));
      for (const tab of tabs) await tab.next("subscribed");
      await hub.herald.publish("coindcx:events", "order", { id: "order-id", pair: "B-ETH_USDT", status: "open" });
      for (const tab of tabs) assert.equal(((await tab.next("order")).data as { pair: string }).pair, "B-ETH_USDT");
      await Promise.all(tabs.map((tab) => tab.close()));
    });
  });

  it("seed 5: /ws?token= gets connected, then snapshot, corridor and anchor updates with fields at the top level", async () => {
    await withExample("analytics-broadcast", async (hub) => {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=secret`);
      const connected = await client.next("connected");
      assert.equal(typeof connected.connectionId, "string");
      assert.equal(connected.pingInterval, 30_000);
      await client.take(3, "subscribed");
      await hub.herald.publish("analytics:anchors", "anchor_update", { anchor_id: "a1", name: "Anchor Name", reliability_score: 98.5, status: "green" });
      assert.deepEqual(await client.next("anchor_update"), { type: "anchor_update", anchor_id: "a1", name: "Anchor Name", reliability_score: 98.5, status: "green" });
      await client.close();
    });
  });

  it("a client's own subscribe to its route's channel adopts the route's subscription: resent from its since, each event once", async () => {
    await withExample("bridge-status", async (hub) => {
      const address = "0x52908400098527886E0F7030069857D2E4169EE7";
      const channel = `user:${address}`;
      const first = await hub.herald.publish(channel, "cas_deposit_update", { id: 1 });
      await hub.herald.publish(channel, "cas_deposit_update", { id: 2 });
      await hub.herald.publish(channel, "cas_deposit_update", { id: 3 });
      const client = await TestClient.open(`${hub.wsUrl}/api/ws/${address}`);
      // As an SDK does after a reconnect: it resumes from the last event it handled.
      client.send({ type: "subscribe", id: 7, channel, since: { epoch: first.epoch, offset: first.offset } });
      const automatic = await client.next("subscribed");
      assert.equal(automatic.id, undefined);
      const adopted = await client.next((frame) => frame.type === "subscribed" && frame.id === 7);
      assert.equal(adopted.recovered, true);
      await hub.herald.publish(channel, "cas_deposit_update", { id: 4 });
      const resent = await client.take(3, "cas_deposit_update");
      assert.deepEqual(resent.map((frame) => (frame.data as { id: number }).id), [2, 3, 4]);
      // Adopted once: a second subscribe is the ordinary refusal, and the connection stays.
      client.send({ type: "subscribe", id: 8, channel });
      assert.equal((await client.next("error")).code, "already_subscribed");
      await hub.herald.publish(channel, "cas_deposit_update", { id: 5 });
      assert.deepEqual((await client.next("cas_deposit_update")).data, { id: 5 });
      await client.close();

      // Without a since (a first page load) the client starts where the route's subscription did.
      const fresh = await TestClient.open(`${hub.wsUrl}/api/ws/${address}`);
      const started = await fresh.next("subscribed");
      await hub.herald.publish(channel, "cas_deposit_update", { id: 6 });
      fresh.send({ type: "subscribe", id: 1, channel });
      const taken = await fresh.next((frame) => frame.type === "subscribed" && frame.id === 1);
      assert.equal(taken.offset, started.offset);
      // What the route delivered before the answer comes again after it, for the client to apply.
      assert.deepEqual((await fresh.next("cas_deposit_update")).data, { id: 6 });
      await fresh.close();
    });
  });

  it("seed 5: a route connection with no token where one is required is refused at once with 4501, not left to idle out", async () => {
    const { routes, namespaces, auth, websocket } = exampleConfig("analytics-broadcast");
    const hub = await startHerald({ routes, namespaces, websocket, auth: { ...auth, token: "the-analytics-token-0123456789" } });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      // The idle timeout is 30 s; a refusal must come long before it.
      const closed = await client.closedWithin(5_000);
      assert.equal(closed.code, 4501);
      assert.equal(client.frames.find((frame) => frame.type === "error")?.code, "unauthorized");
      const allowed = await TestClient.open(`${hub.wsUrl}/ws?token=the-analytics-token-0123456789`);
      await allowed.take(3, "subscribed");
      await allowed.close();
    } finally {
      await hub.close();
    }
  });
});
