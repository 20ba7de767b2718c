/**
 * Pusher webhooks with the real pusher-js and the real `pusher` SDK, to a real HTTP receiver:
 * channel_occupied / channel_vacated, member_added / member_removed once per user, client_event,
 * batched into `{time_ms, events}` bodies that the SDK's webhook() helper verifies; nothing on a
 * page reload (leaveDelay); retried by the sinks' queue, and dead letters listed in /api/status and
 * retried through the admin API as Herald's own webhooks are; exactly once across two nodes on Redis.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "@herald/server";
import { getJson, postJson, type RunningHerald } from "../support/herald.js";
import { startReceiver, type Hit, type WebhookReceiver } from "../support/webhook-receiver.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { APP, OTHER_APP, PusherClient, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";

type Hook = Record<string, unknown> & { name: string; channel: string };

/** Every event of every verified POST, in the order received; a POST the SDK does not verify fails the test. */
function eventsOf(running: RunningHerald, receiver: WebhookReceiver): Hook[] {
  return receiver.hits.flatMap((hit: Hit) => {
    const webhook = serverSdk(running).webhook({ headers: hit.headers as Record<string, string>, rawBody: hit.raw });
    assert.ok(webhook.isValid(), `the pusher SDK verifies the webhook: ${hit.raw}`);
    return webhook.getEvents() as unknown as Hook[];
  });
}

const on = (events: Hook[], channel: string): Array<string> => events.filter((event) => event.channel === channel).map((event) => (event.user_id === undefined ? event.name : `${event.name} ${String(event.user_id)}`));

describe("Pusher webhooks", () => {
  let running: RunningHerald;
  let receiver: WebhookReceiver;
  let failOnce: WebhookReceiver;
  let failed = false;
  const clients: PusherClient[] = [];
  const connect = async (user?: string): Promise<PusherClient> => {
    const client = await PusherClient.connect(running, user === undefined ? {} : { user: { user_id: user, user_info: { name: user } } });
    clients.push(client);
    return client;
  };
  const events = (): Hook[] => eventsOf(running, receiver);

  before(async () => {
    receiver = await startReceiver(() => 200);
    failOnce = await startReceiver(() => (failed ? 200 : ((failed = true), 500)));
    running = await startPusherHerald({
      pusher: {
        leaveDelay: "1500ms",
        apps: [
          { ...APP, webhooks: [{ url: receiver.url }] },
          { ...OTHER_APP, webhooks: [{ url: failOnce.url, events: ["channel_occupied"], retryDelay: "50ms" }] },
        ],
      },
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
    await Promise.all([receiver?.close(), failOnce?.close()]);
  });

  it("posts channel_occupied when the first subscriber comes and channel_vacated after the last one left, signed as the SDK verifies", async () => {
    const first = await connect();
    const second = await connect();
    await first.subscribe("orders");
    await second.subscribe("orders");
    await until("channel_occupied", () => on(events(), "orders").length === 1);
    const hit = receiver.hits.find((h) => h.raw.includes('"orders"'))!;
    assert.equal(hit.headers["x-pusher-key"], APP.key);
    assert.equal(typeof hit.body.time_ms, "number");
    const stranger = serverSdk(running, { ...APP, secret: "not-the-secret-0123456789" });
    assert.equal(stranger.webhook({ headers: hit.headers as Record<string, string>, rawBody: hit.raw }).isValid(), false, "another secret does not verify it");

    first.disconnect();
    second.pusher.unsubscribe("orders");
    await until("channel_vacated", () => on(events(), "orders").length === 2, 10_000);
    assert.deepEqual(on(events(), "orders"), ["channel_occupied", "channel_vacated"]);
  });

  it("posts nothing when a page reloads: the channel's subscriber leaves and another comes back within leaveDelay", async () => {
    const page = await connect("ivy");
    await page.subscribePresence("presence-reload");
    await until("occupied and member_added", () => on(events(), "presence-reload").length === 2);
    assert.deepEqual(on(events(), "presence-reload"), ["channel_occupied", "member_added ivy"], "both in the order they happened");
    const batch = receiver.hits.find((h) => h.raw.includes("presence-reload"))!;
    assert.equal(batch.body.events.length, 2, "reported together, they come in one POST");

    const reloaded = await connect("ivy");
    page.disconnect();
    await reloaded.subscribePresence("presence-reload");
    await settle(2_000);
    assert.deepEqual(on(events(), "presence-reload"), ["channel_occupied", "member_added ivy"], "no vacated/occupied, no removed/added");

    reloaded.disconnect();
    await until("member_removed and channel_vacated", () => on(events(), "presence-reload").length === 4, 10_000);
    assert.deepEqual(on(events(), "presence-reload").slice(2), ["member_removed ivy", "channel_vacated"]);
  });

  it("posts member_added and member_removed once per user, however many connections it has", async () => {
    const host = await connect("host");
    await host.subscribePresence("presence-tabs");
    const tabs = [await connect("tom"), await connect("tom")];
    await Promise.all(tabs.map((tab) => tab.subscribePresence("presence-tabs")));
    tabs[0]!.disconnect();
    await until("member_added tom", () => on(events(), "presence-tabs").includes("member_added tom"));
    tabs[1]!.disconnect();
    await until("member_removed tom", () => on(events(), "presence-tabs").includes("member_removed tom"), 10_000);
    await settle(500);
    assert.deepEqual(on(events(), "presence-tabs"), ["channel_occupied", "member_added host", "member_added tom", "member_removed tom"]);
  });

  it("posts client_event with the event, its data as a string, the sender's socket_id and, on presence channels, user_id", async () => {
    const sender = await connect("sam");
    const listener = await connect("lee");
    const channel = await sender.subscribePresence("presence-chat");
    await listener.subscribePresence("presence-chat");
    channel.trigger("client-typing", { who: "sam" });
    await until("client_event", () => events().some((event) => event.name === "client_event"));
    const hook = events().find((event) => event.name === "client_event")!;
    assert.deepEqual(hook, { name: "client_event", channel: "presence-chat", event: "client-typing", data: JSON.stringify({ who: "sam" }), socket_id: sender.socketId, user_id: "sam" });
  });

  it("retries a POST the receiver refused, through the sinks' queue, and sends only the kinds an URL asks for", async () => {
    const client = await PusherClient.connect(running, { app: OTHER_APP });
    clients.push(client);
    await client.subscribe("private-retried");
    await failOnce.until(2, 10_000);
    assert.equal(failOnce.hits[0]!.raw, failOnce.hits[1]!.raw, "the same body, tried again");
    assert.deepEqual(serverSdk(running, OTHER_APP).webhook({ headers: failOnce.hits[1]!.headers as Record<string, string>, rawBody: failOnce.hits[1]!.raw }).getEvents(), [{ name: "channel_occupied", channel: "private-retried" }]);
    client.disconnect();
    await settle(2_000);
    assert.equal(failOnce.hits.length, 2, "no channel_vacated: this URL asked for channel_occupied only");
  });

  it("takes the one-app webhook URL from HERALD_PUSHER_WEBHOOK_URL", () => {
    const config = loadConfig({ env: { HERALD_PUSHER_APP_ID: "a", HERALD_PUSHER_KEY: "k", HERALD_PUSHER_SECRET: "app-secret-0123456789", HERALD_PUSHER_WEBHOOK_URL: "https://app.example/pusher/webhooks" } });
    assert.deepEqual(config.pusher.apps[0]!.webhooks.map((hook) => [hook.url, hook.events.length]), [["https://app.example/pusher/webhooks", 6]]);
    assert.equal(config.pusher.leaveDelay, 3_000);
  });
});

describe("Pusher webhook dead letters", () => {
  let running: RunningHerald;
  let answer = 503;
  let receiver: WebhookReceiver;
  const clients: PusherClient[] = [];

  before(async () => {
    receiver = await startReceiver(() => answer);
    running = await startPusherHerald({ pusher: { apps: [{ ...APP, webhooks: [{ url: receiver.url, events: ["channel_occupied"], attempts: 2, retryDelay: "20ms" }] }] } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
    await receiver?.close();
  });

  it("lists a POST that used its tries in /api/status, and the admin API's retry delivers it with fresh tries", async () => {
    const client = await PusherClient.connect(running);
    clients.push(client);
    await client.subscribe("orders-dead");
    await receiver.until(2);
    const pusherWebhooks = running.herald.integrations.pusherWebhooks;
    await pusherWebhooks.idle();
    const status = (await getJson(`${running.url}/api/status`, running.adminHeaders)).body.integrations.pusherWebhooks;
    assert.equal(status.store, "memory");
    assert.deepEqual(status.endpoints, [{ app: APP.id, url: receiver.url, delivered: 0, retries: 1, deadLettered: 1, dropped: 0, queued: 0 }]);
    assert.equal(status.deadLetters.length, 1);
    const [letter] = status.deadLetters;
    assert.deepEqual({ ...letter, id: typeof letter.id, at: typeof letter.at }, { app: APP.id, url: receiver.url, id: "string", kind: "channel_occupied", channel: "orders-dead", attempts: 2, error: "HTTP 503", at: "string" });
    assert.equal((await getJson(`${running.url}/api/status`)).body.integrations, undefined, "only the admin sees integrations");

    answer = 200;
    assert.deepEqual(await postJson(`${running.url}/api/admin/dead-letters/retry`, { sink: "pusher", url: receiver.url, id: "no-such-post" }, running.adminHeaders), { status: 200, body: { retried: 0 } });
    assert.deepEqual(await postJson(`${running.url}/api/admin/dead-letters/retry`, { sink: "pusher", url: receiver.url, id: letter.id }, running.adminHeaders), { status: 200, body: { retried: 1 } });
    await receiver.until(3);
    assert.equal(receiver.hits[2]!.raw, receiver.hits[0]!.raw, "the same signed body");
    assert.deepEqual(serverSdk(running).webhook({ headers: receiver.hits[2]!.headers as Record<string, string>, rawBody: receiver.hits[2]!.raw }).getEvents(), [{ name: "channel_occupied", channel: "orders-dead" }]);
    await pusherWebhooks.idle();
    const after = (await getJson(`${running.url}/api/status`, running.adminHeaders)).body.integrations.pusherWebhooks;
    assert.deepEqual(after.deadLetters, []);
    assert.equal(after.endpoints[0].delivered, 1);
  });
});

const skip = await redisSkip();

describe("Pusher webhooks across two nodes on Redis", { skip }, () => {
  const prefix = uniquePrefix("pusher-hooks");
  let a: RunningHerald;
  let b: RunningHerald;
  let receiver: WebhookReceiver;
  const clients: PusherClient[] = [];

  before(async () => {
    receiver = await startReceiver(() => 200);
    const config = { engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix }, pusher: { leaveDelay: "1s", apps: [{ ...APP, webhooks: [{ url: receiver.url }] }] } };
    a = await startPusherHerald({ ...config, node: "node-a" });
    b = await startPusherHerald({ ...config, node: "node-b" });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all([a?.close(), b?.close()]);
    await receiver?.close();
    await deleteKeys(prefix);
  });

  it("posts channel_occupied, member_added, member_removed and channel_vacated once when the user's connections are on both nodes", async () => {
    const tabs = await Promise.all([PusherClient.connect(a, { user: { user_id: 7 } }), PusherClient.connect(b, { user: { user_id: 7 } })]);
    clients.push(...tabs);
    // Both tabs join at once, on different nodes, and leave at once.
    await Promise.all(tabs.map((tab) => tab.subscribePresence("presence-both")));
    await until("occupied and member_added", () => on(eventsOf(a, receiver), "presence-both").length >= 2);
    for (const tab of tabs) tab.disconnect();
    await until("member_removed and vacated", () => on(eventsOf(a, receiver), "presence-both").length >= 4, 10_000);
    await settle(1_500);
    const posted = on(eventsOf(a, receiver), "presence-both");
    assert.deepEqual(posted.slice(0, 2), ["channel_occupied", "member_added 7"]);
    // The two leaves are decided on different nodes (the last member by presence, vacated by the
    // last node holding the channel), each posting its own webhook: each comes once, in either order.
    assert.deepEqual(posted.slice(2).sort(), ["channel_vacated", "member_removed 7"]);
  });

  it("posts nothing when a page reloads onto the other node, and channel_vacated once when the last node's subscriber leaves", async () => {
    const onA = await PusherClient.connect(a);
    clients.push(onA);
    await onA.subscribe("news");
    await until("channel_occupied", () => on(eventsOf(a, receiver), "news").length === 1);
    const onB = await PusherClient.connect(b);
    clients.push(onB);
    onA.disconnect();
    await onB.subscribe("news");
    await settle(1_500);
    assert.deepEqual(on(eventsOf(a, receiver), "news"), ["channel_occupied"]);
    onB.disconnect();
    await until("channel_vacated", () => on(eventsOf(a, receiver), "news").length === 2, 10_000);
    await settle(1_500);
    assert.deepEqual(on(eventsOf(a, receiver), "news"), ["channel_occupied", "channel_vacated"]);
  });
});
