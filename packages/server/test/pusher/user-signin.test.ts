/**
 * User authentication with the real pusher-js and the real `pusher` SDK: pusher:signin with the
 * SDK's authenticateUser, events the SDK sends to a user (sendToUser, `#server-to-user-<id>`),
 * terminateUserConnections closing every connection of that user on every node, and the refusals.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, type RunningHerald } from "../support/herald.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { APP, PusherClient, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";
import { deadline } from "../support/deadline.js";

const signedIn = (client: PusherClient): Promise<void> => {
  client.pusher.signin();
  return deadline(client.pusher.user.signinDonePromise as Promise<void>, "pusher:signin_success");
};
const closedWith = (client: PusherClient): Promise<number> =>
  deadline(new Promise<number>((resolve) => client.pusher.connection.bind("error", (error: { data?: { code?: number } }) => error.data?.code !== undefined && resolve(error.data.code))), "the connection's close");

describe("Pusher user authentication", () => {
  let running: RunningHerald;
  const clients: PusherClient[] = [];
  const connect = async (signinAs?: { id: string } & Record<string, unknown>): Promise<PusherClient> => {
    const client = await PusherClient.connect(running, signinAs ? { signinAs } : {});
    clients.push(client);
    return client;
  };

  before(async () => {
    running = await startPusherHerald();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
  });

  it("signs a user in with pusher-js signin(), and delivers what the SDK sends to that user, to that user only", async () => {
    const ada = await connect({ id: "ada", name: "Ada" });
    const bob = await connect({ id: "bob" });
    await Promise.all([signedIn(ada), signedIn(bob)]);
    assert.deepEqual(ada.pusher.user.user_data, { id: "ada", name: "Ada" });
    await until("ada's server-to-user channel", () => ada.pusher.user.serverToUserChannel?.subscribed === true);
    await until("bob's server-to-user channel", () => bob.pusher.user.serverToUserChannel?.subscribed === true);
    const toAda: unknown[] = [];
    const toBob: unknown[] = [];
    ada.pusher.user.bind("invoice-paid", (data: unknown) => toAda.push(data));
    bob.pusher.user.bind("invoice-paid", (data: unknown) => toBob.push(data));
    await serverSdk(running).sendToUser("ada", "invoice-paid", { invoice: 12 });
    await until("ada gets the event sent to her", () => toAda.length === 1);
    assert.deepEqual(toAda[0], { invoice: 12 });
    await settle();
    assert.equal(toBob.length, 0);
  });

  it("terminates every connection of a user with the SDK's terminateUserConnections; others stay", async () => {
    const tabs = [await connect({ id: "cat" }), await connect({ id: "cat" })];
    const other = await connect({ id: "dan" });
    await Promise.all([...tabs, other].map(signedIn));
    const closes = tabs.map(closedWith);
    const response = await serverSdk(running).terminateUserConnections("cat");
    assert.equal(response.status, 200);
    assert.deepEqual(await Promise.all(closes), [4009, 4009]);
    await settle();
    assert.equal(other.pusher.connection.state, "connected");
  });

  it("refuses a signin with a bad signature with pusher:error 4009 and a close, and another user's channel with subscription_error", async () => {
    const raw = await TestClient.open(`${running.wsUrl}/app/${APP.key}?protocol=7`);
    const established = await raw.next((frame) => frame.event === "pusher:connection_established");
    const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
    raw.send({ event: "pusher:subscribe", data: { channel: "#server-to-user-eve" } });
    const refused = await raw.next((frame) => frame.event === "pusher:subscription_error");
    assert.equal((refused.data as { status: number }).status, 403);
    const good = serverSdk(running).authenticateUser(socketId, { id: "eve" });
    raw.send({ event: "pusher:signin", data: { auth: good.auth, user_data: JSON.stringify({ id: "mallory" }) } });
    const error = await raw.next((frame) => frame.event === "pusher:error");
    assert.equal((error.data as { code: number }).code, 4009);
    assert.equal((await raw.closed).code, 4009);
  });
});

const skip = await redisSkip();

describe("Pusher terminate_connections across two nodes on Redis", { skip }, () => {
  const prefix = uniquePrefix("pusher-users");
  let a: RunningHerald;
  let b: RunningHerald;
  const clients: PusherClient[] = [];

  before(async () => {
    const engine = { type: "redis" as const, redisUrl: REDIS_URL, prefix };
    a = await startPusherHerald({ engine, node: "node-a" });
    b = await startPusherHerald({ engine, node: "node-b" });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all([a?.close(), b?.close()]);
    await deleteKeys(prefix);
  });

  it("closes the user's connections on both nodes, asked on one", async () => {
    const tabs = [await PusherClient.connect(a, { signinAs: { id: "fay" } }), await PusherClient.connect(b, { signinAs: { id: "fay" } })];
    clients.push(...tabs);
    await Promise.all(tabs.map(signedIn));
    const closes = tabs.map(closedWith);
    await serverSdk(a).terminateUserConnections("fay");
    assert.deepEqual(await Promise.all(closes), [4009, 4009]);
  });
});
