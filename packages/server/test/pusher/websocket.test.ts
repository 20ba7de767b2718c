/**
 * The Pusher WebSocket protocol with the real pusher-js (Node build) and the real `pusher` server
 * SDK: every channel kind, presence members once per user, client events, the errors and closes
 * Pusher defines, and the activity timeout. A raw WebSocket speaks the frames where pusher-js
 * would hide what the server said.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { PresenceChannel } from "pusher-js";
import type { ClientOptions } from "ws";
import { TestClient, type Frame, type RunningHerald } from "../support/herald.js";
import { APP, OTHER_APP, PusherClient, collect, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";

const dataOf = (frame: Frame): Record<string, unknown> => (typeof frame.data === "string" ? JSON.parse(frame.data) : frame.data) as Record<string, unknown>;

describe("Pusher protocol 7 at /app/{key}", () => {
  let running: RunningHerald;
  const clients: PusherClient[] = [];
  const connect = async (options: Parameters<typeof PusherClient.connect>[1] = {}): Promise<PusherClient> => {
    const client = await PusherClient.connect(running, options);
    clients.push(client);
    return client;
  };
  const raw = async (path = `/app/${APP.key}?protocol=7&client=js&version=8.6.0`, options?: ClientOptions): Promise<TestClient> => TestClient.open(`${running.wsUrl}${path}`, options);

  before(async () => {
    running = await startPusherHerald({
      pusher: {
        apps: [
          { ...APP, maxPresenceMembers: 3, clientEventsPerSecond: 5 },
          OTHER_APP,
          { id: "off", key: "off-key", secret: "off-secret-0123456789", enabled: false },
          { id: "tiny", key: "tiny-key", secret: "tiny-secret-0123456789", maxConnections: 1 },
          { id: "site", key: "site-key", secret: "site-secret-0123456789", allowedOrigins: ["https://app.example"] },
        ],
      },
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running.close();
  });

  it("says connection_established with a socket id and the activity timeout in seconds", async () => {
    const client = await raw();
    const established = await client.next((frame) => frame.event === "pusher:connection_established");
    const data = dataOf(established);
    assert.match(String(data.socket_id), /^\d+\.\d+$/);
    assert.equal(data.activity_timeout, 120);
    client.send({ event: "pusher:ping", data: {} });
    await client.next((frame) => frame.event === "pusher:pong");
    await client.close();
  });

  for (const [label, path, code] of [
    ["an unknown app key", "/app/nobody?protocol=7", 4001],
    ["a disabled app", "/app/off-key?protocol=7", 4003],
    ["a protocol version Herald does not speak", `/app/${APP.key}?protocol=3`, 4007],
    ["a protocol that is not a number", `/app/${APP.key}?protocol=seven`, 4006],
  ] as const) {
    it(`refuses ${label} with pusher:error ${code} and a close of the same code`, async () => {
      const client = await raw(path);
      const error = await client.next((frame) => frame.event === "pusher:error");
      assert.equal(dataOf(error).code, code);
      assert.equal((await client.closed).code, code);
    });
  }

  it("refuses an origin the app does not allow with 4009, and an app over its quota with 4004", async () => {
    const stranger = await raw("/app/site-key?protocol=7", { headers: { origin: "https://evil.example" } });
    assert.equal(dataOf(await stranger.next((frame) => frame.event === "pusher:error")).code, 4009);
    assert.equal((await stranger.closed).code, 4009);
    const friend = await raw("/app/site-key?protocol=7", { headers: { origin: "https://app.example" } });
    await friend.next((frame) => frame.event === "pusher:connection_established");
    await friend.close();

    const first = await raw("/app/tiny-key?protocol=7");
    await first.next((frame) => frame.event === "pusher:connection_established");
    const second = await raw("/app/tiny-key?protocol=7");
    assert.equal(dataOf(await second.next((frame) => frame.event === "pusher:error")).code, 4004);
    assert.equal((await second.closed).code, 4004);
    await first.close();
  });

  it("delivers events triggered with the server SDK on public, private and presence channels", async () => {
    const client = await connect({ user: { user_id: "u-events" } });
    const channels = [await client.subscribe("orders.public"), await client.subscribe("private-orders.7"), await client.subscribe("presence-orders;7")];
    const seen = channels.map((channel) => collect(channel, "order-shipped"));
    await serverSdk(running).trigger(["orders.public", "private-orders.7", "presence-orders;7"], "order-shipped", { id: 7, items: ["a"] });
    await until("the event on every channel", () => seen.every((list) => list.length === 1));
    for (const list of seen) assert.deepEqual(list[0]!.data, { id: 7, items: ["a"] });
  });

  it("keeps Laravel's event names (App\\Events\\OrderShipped) and string data as they are", async () => {
    const client = await connect();
    const channel = await client.subscribe("private-App.Models.User.1");
    const laravel = collect(channel, "App\\Events\\OrderShipped");
    const notification = collect(channel, "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated");
    const text = collect(channel, "note");
    const sdk = serverSdk(running);
    await sdk.trigger("private-App.Models.User.1", "App\\Events\\OrderShipped", { order: 1 });
    await sdk.trigger("private-App.Models.User.1", "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated", { id: "n1" });
    await sdk.trigger("private-App.Models.User.1", "note", "plain text, not JSON");
    await until("the three events", () => laravel.length === 1 && notification.length === 1 && text.length === 1);
    assert.deepEqual(laravel[0]!.data, { order: 1 });
    assert.deepEqual(notification[0]!.data, { id: "n1" });
    assert.equal(text[0]!.data, "plain text, not JSON");
  });

  it("refuses a private subscription with a bad signature with pusher:subscription_error, and keeps the connection", async () => {
    const client = await raw();
    const socketId = String(dataOf(await client.next((frame) => frame.event === "pusher:connection_established")).socket_id);
    client.send({ event: "pusher:subscribe", data: { channel: "private-secret", auth: `${APP.key}:${"0".repeat(64)}` } });
    const refused = await client.next((frame) => frame.event === "pusher:subscription_error");
    assert.equal(refused.channel, "private-secret");
    assert.equal(dataOf(refused).type, "AuthError");
    assert.equal(dataOf(refused).status, 401);
    // Signed with another app's secret: refused too.
    const foreign = serverSdk(running, OTHER_APP).authorizeChannel(socketId, "private-secret");
    client.send({ event: "pusher:subscribe", data: { channel: "private-secret", auth: foreign.auth } });
    assert.equal(dataOf(await client.next((frame) => frame.event === "pusher:subscription_error")).type, "AuthError");
    // Signed for another socket: refused.
    const stolen = serverSdk(running).authorizeChannel("1.2", "private-secret");
    client.send({ event: "pusher:subscribe", data: { channel: "private-secret", auth: stolen.auth } });
    assert.equal(dataOf(await client.next((frame) => frame.event === "pusher:subscription_error")).status, 401);
    // The right signature works on the same connection.
    const good = serverSdk(running).authorizeChannel(socketId, "private-secret");
    client.send({ event: "pusher:subscribe", data: { channel: "private-secret", auth: good.auth } });
    const ok = await client.next((frame) => frame.event === "pusher_internal:subscription_succeeded");
    assert.equal(ok.channel, "private-secret");
    await client.close();
  });

  it("lists presence members once per user, and announces a user once however many tabs it opens", async () => {
    const watcher = await connect({ user: { user_id: "watcher", user_info: { name: "W" } } });
    const room = await watcher.subscribePresence("presence-room.1");
    const added = collect(room, "pusher:member_added");
    const removed = collect(room, "pusher:member_removed");
    assert.equal(room.members.count, 1);
    assert.deepEqual(room.members.me, { id: "watcher", info: { name: "W" } });

    const tab1 = await connect({ user: { user_id: 42, user_info: { name: "Ada" } } });
    const tab2 = await connect({ user: { user_id: 42, user_info: { name: "Ada" } } });
    const tab1Room = await tab1.subscribePresence("presence-room.1");
    const tab2Room = await tab2.subscribePresence("presence-room.1");
    await until("member_added for user 42", () => added.length === 1);
    // The id as the app's authorizer gave it (Laravel gives numbers).
    assert.deepEqual(added[0]!.data, { id: 42, info: { name: "Ada" } });
    assert.equal(room.members.count, 2);
    assert.equal(tab2Room.members.count, 2, "the second tab sees both users, itself once");
    assert.equal(collect(tab1Room, "pusher:member_added").length, 0);

    tab1.disconnect();
    await settle();
    assert.equal(removed.length, 0, "the user still has a tab open");
    tab2.disconnect();
    await until("member_removed for user 42", () => removed.length === 1);
    assert.equal((removed[0]!.data as { id: number }).id, 42);
    await settle();
    assert.equal(added.length, 1);
    assert.equal(removed.length, 1);
    assert.equal(room.members.count, 1);
  });

  it("refuses a presence subscription past maxPresenceMembers, and one without channel_data", async () => {
    const members = await Promise.all(["m1", "m2", "m3"].map((user) => connect({ user: { user_id: user } })));
    for (const member of members) await member.subscribePresence("presence-full");
    const fourth = await connect({ user: { user_id: "m4" } });
    await assert.rejects(fourth.subscribePresence("presence-full"), (error: Error & { data?: { type: string } }) => error.data?.type === "LimitReached");
    // Another connection of a user already there still gets in.
    const again = await connect({ user: { user_id: "m1" } });
    assert.equal((await again.subscribePresence("presence-full")).members.count, 3);

    const client = await raw();
    const socketId = String(dataOf(await client.next((frame) => frame.event === "pusher:connection_established")).socket_id);
    const auth = serverSdk(running).authorizeChannel(socketId, "presence-full");
    client.send({ event: "pusher:subscribe", data: { channel: "presence-full", auth: auth.auth } });
    assert.equal(dataOf(await client.next((frame) => frame.event === "pusher:subscription_error")).status, 400);
    await client.close();
  });

  it("passes client events to the other subscribers, never back to the sender, naming the user on presence channels", async () => {
    const alice = await connect({ user: { user_id: "alice" } });
    const bob = await connect({ user: { user_id: "bob" } });
    const alicePrivate = await alice.subscribe("private-chat");
    const bobPrivate = await bob.subscribe("private-chat");
    const alicePresence = await alice.subscribePresence("presence-chat");
    const bobPresence = await bob.subscribePresence("presence-chat");
    const echoed = collect(alicePrivate, "client-typing");
    const heard = collect(bobPrivate, "client-typing");
    const heardPresence = collect(bobPresence, "client-typing");
    alicePrivate.trigger("client-typing", { typing: true });
    (alicePresence as PresenceChannel).trigger("client-typing", { typing: "presence" });
    await until("bob hears both", () => heard.length === 1 && heardPresence.length === 1);
    assert.deepEqual(heard[0]!.data, { typing: true });
    assert.deepEqual(heardPresence[0]!.data, { typing: "presence" });
    assert.deepEqual(heardPresence[0]!.metadata, { user_id: "alice" });
    await settle();
    assert.equal(echoed.length, 0, "the sender never gets its own client event");
  });

  it("refuses client events on public channels, on apps without them, and over the rate limit (4301, connection kept)", async () => {
    const client = await raw();
    const socketId = String(dataOf(await client.next((frame) => frame.event === "pusher:connection_established")).socket_id);
    client.send({ event: "pusher:subscribe", data: { channel: "lobby" } });
    await client.next((frame) => frame.event === "pusher_internal:subscription_succeeded");
    client.send({ event: "client-hi", channel: "lobby", data: {} });
    assert.match(String(dataOf(await client.next((frame) => frame.event === "pusher:error")).message), /private and presence/);

    client.send({ event: "pusher:subscribe", data: { channel: "private-burst", auth: serverSdk(running).authorizeChannel(socketId, "private-burst").auth } });
    await client.next((frame) => frame.event === "pusher_internal:subscription_succeeded");
    for (let i = 0; i < 8; i++) client.send({ event: "client-burst", channel: "private-burst", data: { i } });
    const limited = await client.next((frame) => frame.event === "pusher:error" && dataOf(frame).code === 4301);
    assert.match(String(dataOf(limited).message), /rate limit/);
    client.send({ event: "pusher:ping", data: {} });
    await client.next((frame) => frame.event === "pusher:pong");
    await client.close();

    const other = await raw(`/app/${OTHER_APP.key}?protocol=7`);
    const otherSocket = String(dataOf(await other.next((frame) => frame.event === "pusher:connection_established")).socket_id);
    other.send({ event: "pusher:subscribe", data: { channel: "private-x", auth: serverSdk(running, OTHER_APP).authorizeChannel(otherSocket, "private-x").auth } });
    await other.next((frame) => frame.event === "pusher_internal:subscription_succeeded");
    other.send({ event: "client-x", channel: "private-x", data: {} });
    assert.match(String(dataOf(await other.next((frame) => frame.event === "pusher:error")).message), /not enabled/);
    await other.close();
  });

  it("does not deliver a triggered event to the socket_id it excludes", async () => {
    const sender = await connect();
    const other = await connect();
    const senderChannel = collect(await sender.subscribe("private-edits"), "edited");
    const otherChannel = collect(await other.subscribe("private-edits"), "edited");
    await serverSdk(running).trigger("private-edits", "edited", { v: 1 }, { socket_id: sender.socketId });
    await until("the other socket gets it", () => otherChannel.length === 1);
    await settle();
    assert.equal(senderChannel.length, 0);
  });

  it("unsubscribes: no more events for that channel", async () => {
    const client = await connect();
    const channel = await client.subscribe("news");
    const seen = collect(channel, "story");
    const sdk = serverSdk(running);
    await sdk.trigger("news", "story", { n: 1 });
    await until("the first story", () => seen.length === 1);
    client.pusher.unsubscribe("news");
    await settle(100);
    await sdk.trigger("news", "story", { n: 2 });
    await settle();
    assert.equal(seen.length, 1);
  });
});

describe("Pusher activity timeout", () => {
  let running: RunningHerald;
  before(async () => {
    running = await startPusherHerald({ pusher: { activityTimeout: "1s", pongTimeout: "500ms" } });
  });
  after(() => running.close());

  it("pings a silent connection and closes it with 4201 when nothing comes back; an answering one stays", async () => {
    const silent = await TestClient.open(`${running.wsUrl}/app/${APP.key}?protocol=7`, { autoPong: false });
    const answering = await TestClient.open(`${running.wsUrl}/app/${APP.key}?protocol=7`);
    assert.equal(dataOf(await silent.next((frame) => frame.event === "pusher:connection_established")).activity_timeout, 1);
    await silent.next((frame) => frame.event === "pusher:ping", 5_000);
    assert.equal((await silent.closed).code, 4201);
    await answering.next((frame) => frame.event === "pusher:ping", 5_000);
    answering.send({ event: "pusher:pong", data: {} });
    await settle(1_000);
    assert.equal(answering.closeCode, undefined, "a connection that answers stays open");
    await answering.close();
  });
});
