/**
 * Pusher's HTTP API with the real `pusher` server SDK: triggers (several channels, info,
 * socket_id), batches, channel lists and counts, presence users; and the requests it refuses:
 * a wrong signature, another app's credentials, an old timestamp, an event over 10 KB.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningHerald } from "../support/herald.js";
import { APP, OTHER_APP, PusherClient, collect, serverSdk, startPusherHerald, until } from "../support/pusher.js";
import PusherServer from "pusher";

/** The status and body of a request the SDK refused (it throws a RequestError). */
async function refusal(request: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await request;
  } catch (error) {
    const { status, body } = error as { status: number; body: string };
    return { status, body };
  }
  throw new Error("the request was accepted");
}

describe("Pusher HTTP API at /apps/{id}/", () => {
  let running: RunningHerald;
  const clients: PusherClient[] = [];
  before(async () => {
    running = await startPusherHerald();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running.close();
  });

  it("triggers on several channels and answers the counts asked for with info", async () => {
    const alice = await PusherClient.connect(running, { user: { user_id: "alice" } });
    const bob = await PusherClient.connect(running, { user: { user_id: "bob" } });
    clients.push(alice, bob);
    const a = collect(await alice.subscribePresence("presence-lobby"), "tick");
    await bob.subscribePresence("presence-lobby");
    const b = collect(await bob.subscribe("ticker"), "tick");
    const response = await serverSdk(running).trigger(["presence-lobby", "ticker"], "tick", { n: 1 }, { info: "subscription_count,user_count" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { channels: { "presence-lobby": { subscription_count: 2, user_count: 2 }, ticker: { subscription_count: 1 } } });
    await until("both get the tick", () => a.length === 1 && b.length === 1);
  });

  it("triggers a batch, answering {} without info and each event's counts with it", async () => {
    const client = await PusherClient.connect(running);
    clients.push(client);
    const one = collect(await client.subscribe("batch-1"), "b");
    const two = collect(await client.subscribe("private-batch-2"), "b");
    const sdk = serverSdk(running);
    const plain = await sdk.triggerBatch([
      { channel: "batch-1", name: "b", data: { n: 1 } },
      { channel: "private-batch-2", name: "b", data: { n: 2 } },
    ]);
    assert.deepEqual(await plain.json(), {});
    await until("both batch events", () => one.length === 1 && two.length === 1);
    const counted = await sdk.triggerBatch([{ channel: "batch-1", name: "b", data: "x", info: "subscription_count" }]);
    assert.deepEqual(await counted.json(), { batch: [{ subscription_count: 1 }] });
  });

  it("lists occupied channels with filter_by_prefix and info, a channel's state, and a presence channel's users", async () => {
    const one = await PusherClient.connect(running, { user: { user_id: "u1" } });
    const two = await PusherClient.connect(running, { user: { user_id: "u2" } });
    const twin = await PusherClient.connect(running, { user: { user_id: "u2" } });
    clients.push(one, two, twin);
    for (const client of [one, two, twin]) await client.subscribePresence("presence-listing");
    await one.subscribe("listing-public");
    const sdk = serverSdk(running);
    const all = (await (await sdk.get({ path: "/channels" })).json()) as { channels: Record<string, unknown> };
    assert.ok("listing-public" in all.channels && "presence-listing" in all.channels);
    const presence = await (await sdk.get({ path: "/channels", params: { filter_by_prefix: "presence-listing", info: "user_count,subscription_count" } })).json();
    assert.deepEqual(presence, { channels: { "presence-listing": { user_count: 2, subscription_count: 3 } } });
    assert.deepEqual(await (await sdk.get({ path: "/channels/presence-listing", params: { info: "user_count,subscription_count" } })).json(), { occupied: true, user_count: 2, subscription_count: 3 });
    assert.deepEqual(await (await sdk.get({ path: "/channels/nobody-here" })).json(), { occupied: false });
    const users = (await (await sdk.get({ path: "/channels/presence-listing/users" })).json()) as { users: Array<{ id: string }> };
    assert.deepEqual(users.users.map((user) => user.id).sort(), ["u1", "u2"]);
    assert.equal((await refusal(sdk.get({ path: "/channels", params: { info: "user_count" } }))).status, 400, "user_count needs the presence- prefix");
    assert.equal((await refusal(sdk.get({ path: "/channels/listing-public/users" }))).status, 400, "users are for presence channels");
  });

  it("refuses a wrong secret, another app's credentials, an unknown app and an unsigned request with 401/404", async () => {
    const port = String(running.herald.port);
    const wrongSecret = new PusherServer({ appId: APP.id, key: APP.key, secret: "not-the-secret-000000", host: "127.0.0.1", port, useTLS: false });
    assert.equal((await refusal(wrongSecret.trigger("c", "e", {}))).status, 401);
    // Signed correctly for app2, sent to app1's URL.
    const otherApp = new PusherServer({ appId: APP.id, key: OTHER_APP.key, secret: OTHER_APP.secret, host: "127.0.0.1", port, useTLS: false });
    assert.equal((await refusal(otherApp.trigger("c", "e", {}))).status, 401);
    const unknownApp = new PusherServer({ appId: "nope", key: APP.key, secret: APP.secret, host: "127.0.0.1", port, useTLS: false });
    assert.equal((await refusal(unknownApp.trigger("c", "e", {}))).status, 404);
    assert.equal((await fetch(`${running.url}/apps/${APP.id}/channels`)).status, 401);
  });

  it("refuses a request signed more than 600 s ago (a replay) with 401, and a body that does not match body_md5", async () => {
    const sdk = serverSdk(running);
    const body = JSON.stringify({ name: "e", channels: ["c"], data: "{}" });
    const realNow = Date.now;
    let query: string;
    try {
      Date.now = () => realNow() - 601_000;
      query = sdk.createSignedQueryString({ method: "POST", path: `/apps/${APP.id}/events`, body });
    } finally {
      Date.now = realNow;
    }
    const old = await fetch(`${running.url}/apps/${APP.id}/events?${query}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(old.status, 401);
    assert.match(await old.text(), /auth_timestamp/);

    const fresh = sdk.createSignedQueryString({ method: "POST", path: `/apps/${APP.id}/events`, body });
    const tampered = await fetch(`${running.url}/apps/${APP.id}/events?${fresh}`, { method: "POST", headers: { "content-type": "application/json" }, body: body.replace('"c"', '"d"') });
    assert.equal(tampered.status, 401);
    const honest = await fetch(`${running.url}/apps/${APP.id}/events?${fresh}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(honest.status, 200);
  });

  it("refuses event data over 10 KB with 413 and stores nothing of the request", async () => {
    const client = await PusherClient.connect(running);
    clients.push(client);
    const seen = collect(await client.subscribe("big"), "e");
    const sdk = serverSdk(running);
    const tooBig = await refusal(sdk.trigger("big", "e", "x".repeat(10 * 1024 + 1)));
    assert.equal(tooBig.status, 413);
    assert.equal((await refusal(sdk.triggerBatch([{ channel: "big", name: "e", data: "ok" }, { channel: "big", name: "e", data: "y".repeat(20_000) }]))).status, 413);
    await sdk.trigger("big", "e", "x".repeat(10 * 1024));
    await until("the event at the limit", () => seen.length === 1);
    assert.equal((seen[0]!.data as string).length, 10 * 1024, "only the event at the limit arrived");
  });
});
