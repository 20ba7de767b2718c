/**
 * The server API on one node, over real sockets and HTTP: disconnect (WebSocket, SSE and a
 * long-poll in flight, stop or reconnect), unsubscribe, subscribe, channels and channel info,
 * what bad input and missing credentials get, and the same actions on the Herald object.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { SECRET, hs256 } from "./security/attack-support.js";

const API_KEY = "backend-key-0123456789";
const backend = { authorization: `Bearer ${API_KEY}` };
const namespaces = { team: { subscribe: "public" as const }, room: { presence: true } };

const tokenOf = (user: string): Promise<string> => hs256({ sub: user }, { expiresIn: "1h" });

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A WebSocket connection of `user`, subscribed to `channels`, once the server knows whose it is. */
async function connect(hub: RunningHerald, user: string, ...channels: string[]): Promise<TestClient> {
  const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await tokenOf(user)}`);
  const { connectionId } = await client.next("connected");
  // `connected` comes first; the token is checked after it, and only then is the user known.
  await until(`${user}'s token to be checked`, () => [...hub.herald.hub.sessions].some((session) => session.id === connectionId && session.user === user));
  for (const channel of channels) assert.equal((await client.subscribe(channel)).type, "subscribed", channel);
  return client;
}

/** A long-poll of `user` on `channel`, started from the current position so that it waits; `answer` settles when it answers. */
async function longPoll(hub: RunningHerald, user: string, channel: string): Promise<{ answer: Promise<{ status: number; body: any }> }> {
  const token = await tokenOf(user);
  const first = await getJson(`${hub.url}/api/updates?channel=${channel}&token=${token}`);
  assert.equal(first.status, 200);
  const before = hub.herald.hub.counts().byTransport.polling;
  const answer = getJson(`${hub.url}/api/updates?channel=${channel}&token=${token}&since=${first.body.cursor}&timeout=20s`);
  await until("the long-poll to wait", () => hub.herald.hub.counts().byTransport.polling > before);
  return { answer };
}

describe("server API: acting on a user's connections", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ auth: { jwt: { secret: SECRET } }, publish: { apiKeys: [API_KEY] }, namespaces });
  });
  after(() => hub.close());

  it("disconnect ends every WebSocket, SSE stream and long-poll of the user with a stop code; another user's connections carry on", async () => {
    const [phone, laptop, bob] = [await connect(hub, "alice", "team:1"), await connect(hub, "alice", "team:2"), await connect(hub, "bob", "team:1")];
    const stream = await SseReader.open(`${hub.url}/sse?channel=team:1&token=${await tokenOf("alice")}`);
    await stream.waitFor("subscribed");
    const poll = await longPoll(hub, "alice", "team:3");

    const answer = await postJson(`${hub.url}/api/disconnect`, { user: "alice", reason: "signed out" }, backend);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { user: "alice", reconnect: false, connections: 4, nodes: 1, unanswered: 0 });

    for (const client of [phone, laptop]) {
      const error = await client.next("error");
      assert.deepEqual([error.code, error.message], ["disconnected", "signed out"]);
      assert.deepEqual(await client.closed, { code: 4510, reason: "signed out" });
    }
    const [record] = await stream.waitFor("error");
    assert.deepEqual(record!.data, { type: "error", code: "disconnected", message: "signed out" });
    await assert.rejects(stream.waitFor("error", 2), /stream ended/, "the SSE stream ends after the error record");
    const polled = await poll.answer;
    assert.equal(polled.status, 410);
    assert.deepEqual(polled.body, { error: { code: "disconnected", message: "signed out" } });

    await hub.herald.publish("team:1", "note", { n: 1 });
    assert.deepEqual((await bob.next("note")).data, { n: 1 });
    assert.equal(bob.closeCode, undefined, "bob is still connected");
    await until("alice's sessions to be gone", () => [...hub.herald.hub.sessions].every((session) => session.user !== "alice"));
    await bob.close();
  });

  it("disconnect with reconnect: true closes with 4010, and SSE and long-polls end with the retryable reconnect_requested", async () => {
    const client = await connect(hub, "carol", "team:1");
    const stream = await SseReader.open(`${hub.url}/sse?channel=team:1&token=${await tokenOf("carol")}`);
    await stream.waitFor("subscribed");
    const poll = await longPoll(hub, "carol", "team:4");
    const answer = await postJson(`${hub.url}/api/disconnect`, { user: "carol", reconnect: true }, backend);
    assert.deepEqual(answer.body, { user: "carol", reconnect: true, connections: 3, nodes: 1, unanswered: 0 });
    assert.equal((await client.next("error")).code, "reconnect_requested");
    assert.deepEqual(await client.closed, { code: 4010, reason: "the server asked this connection to reconnect" });
    assert.equal((await stream.waitFor("error"))[0]!.data.code, "reconnect_requested");
    const polled = await poll.answer;
    assert.equal(polled.status, 503);
    assert.equal(polled.body.error.code, "reconnect_requested");
  });

  it("disconnect of a user with no connection answers 0 connections", async () => {
    const answer = await postJson(`${hub.url}/api/disconnect`, { user: "nobody" }, backend);
    assert.deepEqual(answer.body, { user: "nobody", reconnect: false, connections: 0, nodes: 1, unanswered: 0 });
  });

  it("unsubscribe removes the channel from each of the user's connections with an unsubscribed frame; nothing of it follows, the rest goes on", async () => {
    const [first, second, bob] = [await connect(hub, "dave", "team:5", "team:6"), await connect(hub, "dave", "team:5"), await connect(hub, "bob", "team:5")];
    const stream = await SseReader.open(`${hub.url}/sse?channel=team:5&channel=team:6&token=${await tokenOf("dave")}`);
    await stream.waitFor("subscribed", 2);

    const answer = await postJson(`${hub.url}/api/unsubscribe`, { user: "dave", channel: "team:5", reason: "left the team" }, backend);
    assert.deepEqual(answer.body, { user: "dave", channel: "team:5", connections: 3, nodes: 1, unanswered: 0 });
    for (const client of [first, second]) assert.deepEqual(await client.next("unsubscribed"), { type: "unsubscribed", channel: "team:5", code: "server_unsubscribe", reason: "left the team" });
    const [removed] = await stream.waitFor("unsubscribed");
    assert.deepEqual(removed!.data, { type: "unsubscribed", channel: "team:5", code: "server_unsubscribe", reason: "left the team" });

    await hub.herald.publish("team:5", "note", { n: 1 });
    await hub.herald.publish("team:6", "note", { n: 2 });
    assert.deepEqual((await bob.next("note")).data, { n: 1 }, "another user keeps the channel");
    const next = await first.next("note");
    assert.deepEqual([next.channel, next.data], ["team:6", { n: 2 }], "the user's other channel goes on, and nothing of team:5 came before it");
    const [sseEvent] = await stream.waitFor("note");
    assert.equal(sseEvent!.data.channel, "team:6");
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(sseEvent!.id!, "base64url").toString())), ["team:6"], "the SSE cursor no longer names the removed channel");
    assert.equal(second.frames.filter((frame) => frame.type === "note").length, 0);

    const again = await postJson(`${hub.url}/api/unsubscribe`, { user: "dave", channel: "team:5" }, backend);
    assert.equal(again.body.connections, 0, "nothing left to remove");
    stream.close();
    await Promise.all([first.close(), second.close(), bob.close()]);
  });

  it("subscribe makes each WebSocket and SSE connection of the user subscribed, with live events and presence, as a client subscription would", async () => {
    const ws = await connect(hub, "erin");
    const already = await connect(hub, "erin", "room:7");
    const stream = await SseReader.open(`${hub.url}/sse?channel=team:1&token=${await tokenOf("erin")}`);
    await stream.waitFor("subscribed");
    await hub.herald.publish("room:7", "before", { n: 0 });

    const answer = await postJson(`${hub.url}/api/subscribe`, { user: "erin", channel: "room:7" }, backend);
    assert.deepEqual(answer.body, { user: "erin", channel: "room:7", connections: 2, refused: { already_subscribed: 1 }, nodes: 1, unanswered: 0 });
    const subscribed = await ws.next("subscribed");
    assert.deepEqual([subscribed.channel, subscribed.offset, subscribed.recovered, "id" in subscribed], ["room:7", 1, false, false]);
    const sseSubscribed = (await stream.waitFor("subscribed", 2))[1]!;
    assert.equal(sseSubscribed.data.channel, "room:7");

    await hub.herald.publish("room:7", "after", { n: 1 });
    assert.deepEqual((await ws.next("after")).data, { n: 1 });
    assert.deepEqual((await stream.waitFor("after"))[0]!.data.data, { n: 1 });
    assert.equal(ws.frames.filter((frame) => frame.type === "before").length, 0, "no history: it starts at the current position");
    const presence = await getJson(`${hub.url}/api/presence?channel=room:7`, backend);
    assert.equal(presence.body.count, 3, "every subscription is in presence");

    // The client can leave it like any subscription of its own.
    ws.send({ type: "unsubscribe", id: 1, channel: "room:7" });
    assert.deepEqual(await ws.next("unsubscribed"), { type: "unsubscribed", id: 1, channel: "room:7" });
    stream.close();
    await Promise.all([ws.close(), already.close()]);
  });

  it("a server subscription engages a connection: it is not closed as idle", async () => {
    const idle = await startHerald({ auth: { jwt: { secret: SECRET } }, idleTimeout: "300ms", namespaces });
    try {
      const client = await connect(idle, "frank");
      const answer = await postJson(`${idle.url}/api/subscribe`, { user: "frank", channel: "team:1" });
      assert.equal(answer.body.connections, 1);
      await client.next("subscribed");
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(client.closeCode, undefined);
      await client.close();
    } finally {
      await idle.close();
    }
  });

  it("lists channels with subscriber counts, by prefix and limit, and one channel's subscribers, users and presence", async () => {
    const clients = [await connect(hub, "gina", "room:a", "team:a"), await connect(hub, "gina", "room:a"), await connect(hub, "hal", "room:a", "room:b")];
    const all = await getJson(`${hub.url}/api/channels?prefix=room:`, backend);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, { channels: [{ channel: "room:a", subscribers: 3 }, { channel: "room:b", subscribers: 1 }], total: 2, nodes: 1, unanswered: 0 });
    const limited = await getJson(`${hub.url}/api/channels?prefix=room:&limit=1`, backend);
    assert.deepEqual([limited.body.channels, limited.body.total], [[{ channel: "room:a", subscribers: 3 }], 2]);
    const everything = await getJson(`${hub.url}/api/channels`, backend);
    assert.ok(everything.body.channels.some((entry: { channel: string }) => entry.channel === "team:a"));

    const info = await getJson(`${hub.url}/api/channels/room:a`, backend);
    assert.deepEqual(info.body, { channel: "room:a", subscribers: 3, users: 2, userIds: ["gina", "hal"], presence: 3, nodes: 1, unanswered: 0 });
    const teamInfo = await getJson(`${hub.url}/api/channels/${encodeURIComponent("team:a")}`, backend);
    assert.deepEqual([teamInfo.body.subscribers, teamInfo.body.presence], [1, null], "presence is null where the namespace has it off");
    const empty = await getJson(`${hub.url}/api/channels/nobody/here`, backend);
    assert.deepEqual(empty.body, { channel: "nobody/here", subscribers: 0, users: 0, userIds: [], presence: null, nodes: 1, unanswered: 0 }, "a name with a slash");
    await Promise.all(clients.map((client) => client.close()));
  });

  it("refuses bad input with 400 and a message saying what to fix", async () => {
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ["/api/disconnect", {}, 400, "invalid_body", /user must be/],
      ["/api/disconnect", { user: "" }, 400, "invalid_body", /user must be/],
      ["/api/disconnect", { user: 42 }, 400, "invalid_body", /user must be/],
      ["/api/disconnect", { user: "a", reconnect: "yes" }, 400, "invalid_body", /reconnect must be true/],
      ["/api/disconnect", { user: "a", reconect: true }, 400, "invalid_body", /unknown field "reconect"; this route takes \{"user","reconnect","reason"\}/],
      ["/api/disconnect", { user: "a", reason: "x".repeat(121) }, 400, "invalid_body", /reason must be a string of 1 to 120 bytes/],
      ["/api/disconnect", [], 400, "invalid_body", /must be a JSON object/],
      ["/api/unsubscribe", { user: "a" }, 400, "invalid_body", /channel/],
      ["/api/unsubscribe", { user: "a", channel: "bad channel" }, 400, "invalid_channel", /channel/],
      ["/api/subscribe", { user: "a", channel: "x", reason: "no" }, 400, "invalid_body", /unknown field "reason"/],
    ];
    for (const [path, body, status, code, message] of cases) {
      const answer = await postJson(`${hub.url}${path}`, body, backend);
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, code, JSON.stringify(answer.body));
      assert.match(answer.body.error.message, message);
    }
    const text = await fetch(`${hub.url}/api/disconnect`, { method: "POST", headers: { ...backend, "content-type": "text/plain" }, body: "user=a" });
    assert.equal(text.status, 415);
    const notJson = await postJson(`${hub.url}/api/disconnect`, "{user", backend);
    assert.equal(notJson.body.error.code, "invalid_json");
    for (const query of ["limit=0", "limit=x", "limit=10001", `prefix=${"p".repeat(256)}`]) {
      const answer = await getJson(`${hub.url}/api/channels?${query}`, backend);
      assert.deepEqual([answer.status, answer.body.error.code], [400, "invalid_param"], query);
    }
    const noName = await getJson(`${hub.url}/api/channels/`, backend);
    assert.deepEqual([noName.status, noName.body.error.code], [400, "invalid_channel"]);
  });

  it("the Herald object does the same for embedders", async () => {
    const client = await connect(hub, "ivan", "team:9");
    assert.deepEqual(await hub.herald.channelInfo("team:9"), { channel: "team:9", subscribers: 1, users: 1, userIds: ["ivan"], presence: null, nodes: 1, unanswered: 0 });
    assert.equal((await hub.herald.channels("team:9")).total, 1);
    assert.equal((await hub.herald.subscribe("ivan", "team:10")).connections, 1);
    assert.equal((await client.next("subscribed")).channel, "team:10");
    assert.equal((await hub.herald.unsubscribe("ivan", "team:9")).connections, 1);
    assert.equal((await client.next("unsubscribed")).channel, "team:9");
    assert.equal((await hub.herald.disconnect("ivan", { reason: "bye" })).connections, 1);
    assert.deepEqual(await client.closed, { code: 4510, reason: "bye" });
    await assert.rejects(hub.herald.disconnect(""), { code: "invalid_body" });
  });
});

describe("server API: who may call it", () => {
  const HMAC = { id: "ops", secret: "hmac-secret-for-tests-0123456789" };
  const sign = (content: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> => ({
    "x-herald-key-id": HMAC.id,
    "x-herald-timestamp": String(timestamp),
    "x-herald-signature": createHmac("sha256", HMAC.secret).update(`${timestamp}.${content}`).digest("hex"),
  });

  it("with API and HMAC keys: no credential or a wrong one is 401; the key, a signed request and the admin token are let in", async () => {
    const hub = await startHerald({ publish: { apiKeys: [API_KEY], hmacKeys: [HMAC] }, security: { adminToken: "admin-token-0123456789" } });
    try {
      const body = { user: "nobody" };
      assert.deepEqual(await postJson(`${hub.url}/api/disconnect`, body).then((a) => [a.status, a.body.error.code]), [401, "unauthorized"], "loopback counts for nothing once keys are configured");
      assert.deepEqual(await postJson(`${hub.url}/api/disconnect`, body, { authorization: "Bearer wrong" }).then((a) => [a.status, a.body.error.code]), [401, "unauthorized"]);
      assert.equal((await getJson(`${hub.url}/api/channels`)).status, 401);
      assert.equal((await getJson(`${hub.url}/api/channels/x`, { authorization: "Bearer wrong" })).status, 401);
      assert.equal((await postJson(`${hub.url}/api/disconnect`, body, backend)).status, 200);
      assert.equal((await postJson(`${hub.url}/api/subscribe`, { user: "nobody", channel: "x" }, { authorization: "Bearer admin-token-0123456789" })).status, 200);
      assert.equal((await getJson(`${hub.url}/api/channels`, { cookie: "herald_admin=admin-token-0123456789" })).status, 200, "the dashboard's admin cookie");

      const text = JSON.stringify(body);
      const headers = { "content-type": "application/json", ...sign(text) };
      assert.equal((await postJson(`${hub.url}/api/disconnect`, text, headers)).status, 200);
      const replayed = await postJson(`${hub.url}/api/disconnect`, text, headers);
      assert.deepEqual([replayed.status, replayed.body.error.code], [401, "replayed_request"]);
      const tampered = await postJson(`${hub.url}/api/disconnect`, JSON.stringify({ user: "somebody" }), { "content-type": "application/json", ...sign(text) });
      assert.deepEqual([tampered.status, tampered.body.error.code], [401, "invalid_signature"]);
      // A GET's signature covers its request target.
      assert.equal((await getJson(`${hub.url}/api/channels?prefix=a`, sign("/api/channels?prefix=a"))).status, 200);
      assert.equal((await getJson(`${hub.url}/api/channels?prefix=b`, sign("/api/channels?prefix=a"))).body.error.code, "invalid_signature");
      const stale = await getJson(`${hub.url}/api/channels/x`, sign("/api/channels/x", Math.floor(Date.now() / 1000) - 3600));
      assert.deepEqual([stale.status, stale.body.error.code], [401, "stale_request"]);
    } finally {
      await hub.close();
    }
  });

  it("with nothing configured: loopback without an Authorization header is the backend, as for publish; any other header is 401", async () => {
    const hub = await startHerald();
    try {
      assert.equal((await postJson(`${hub.url}/api/disconnect`, { user: "nobody" })).status, 200);
      assert.equal((await getJson(`${hub.url}/api/channels`)).status, 200);
      assert.equal((await postJson(`${hub.url}/api/disconnect`, { user: "nobody" }, { authorization: "Bearer x" })).status, 401);
      assert.equal((await getJson(`${hub.url}/api/channels/x`, { authorization: "Bearer x" })).status, 401);
    } finally {
      await hub.close();
    }
  });

  it("with only HMAC keys: an unsigned request is told to sign", async () => {
    const hub = await startHerald({ publish: { hmacKeys: [HMAC] } });
    try {
      const answer = await postJson(`${hub.url}/api/disconnect`, { user: "nobody" });
      assert.deepEqual([answer.status, answer.body.error.code], [401, "unauthorized"]);
      assert.match(answer.body.error.message, /sign the request/);
    } finally {
      await hub.close();
    }
  });
});
