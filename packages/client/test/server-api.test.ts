/**
 * What @herald/client does when the backend acts through the server API, on every transport:
 * a disconnected client stops (or reconnects when asked to), a subscription the server removed
 * ends with its code and is not asked for again, and one the server made is held like its own.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { getJson, postJson, startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { deadline } from "../../server/test/support/deadline.js";
import { Herald, type TransportName, type UnsubscribedContext } from "../src/index.js";
import { waitForState } from "./support/wait.js";

const SECRET = "client-server-api-secret-0123456789";
const tokenOf = (user: string): Promise<string> => new SignJWT({ sub: user }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds, polled; for server-side facts no event announces. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("@herald/client and the server API", () => {
  let hub: RunningHerald;
  const clients: Herald[] = [];
  before(async () => {
    hub = await startHerald({ auth: { jwt: { secret: SECRET } } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await hub.close();
  });

  const sessionsOf = (user: string): number => [...hub.herald.hub.sessions].filter((session) => session.user === user && !session.closed).length;

  async function connected(user: string, transport: TransportName): Promise<Herald> {
    const client = new Herald({ url: hub.url, token: await tokenOf(user), transports: [transport], WebSocket, pollTimeout: 5_000, reconnect: { minDelay: 50, maxDelay: 200 } });
    clients.push(client);
    const up = waitForState(client, "connected");
    client.connect();
    await up;
    return client;
  }

  function subscribed(client: Herald, channel: string) {
    const subscription = client.subscribe(channel);
    return { subscription, ready: deadline(new Promise((resolve) => subscription.on("subscribed", resolve)), `the subscription to ${channel}`) };
  }

  for (const transport of ["websocket", "sse", "polling"] as const) {
    it(`${transport}: a disconnected client stops and does not come back`, async () => {
      const user = `stop-${transport}`;
      const client = await connected(user, transport);
      await subscribed(client, "team:stop").ready;
      // A poll is only reachable while it is in flight: wait for the long-poll after the first answer.
      await until(`${user}'s connection on the server`, () => sessionsOf(user) > 0);
      const failed = waitForState(client, "failed");
      const answer = await postJson(`${hub.url}/api/disconnect`, { user, reason: "signed out" });
      assert.equal(answer.body.connections, 1);
      const change = await failed;
      assert.deepEqual([change.reason, change.code, change.message], ["server_closed", 4510, "signed out"]);
      await sleep(400);
      assert.equal(client.state, "failed", "no reconnect");
      assert.equal(sessionsOf(user), 0, "the server holds nothing for the user");
    });

    it(`${transport}: with reconnect: true the client reconnects and resumes its subscription`, async () => {
      const user = `again-${transport}`;
      const client = await connected(user, transport);
      const { subscription, ready } = subscribed(client, "team:again");
      await ready;
      await until(`${user}'s connection on the server`, () => sessionsOf(user) > 0);
      const reconnecting = waitForState(client, "reconnecting");
      await postJson(`${hub.url}/api/disconnect`, { user, reconnect: true });
      const change = await reconnecting;
      assert.equal(change.code, 4010);
      await waitForState(client, "connected");
      await until("the subscription again", () => subscription.state.status === "subscribed");
      const received = deadline(new Promise((resolve) => subscription.on("note", resolve)), "an event after the reconnect");
      await hub.herald.publish("team:again", "note", { n: 1 });
      assert.deepEqual(await received, { n: 1 });
      subscription.unsubscribe();
    });
  }

  for (const transport of ["websocket", "sse"] as const) {
    it(`${transport}: a subscription the server removed is unsubscribed with its code, and not asked for after a reconnect`, async () => {
      const user = `removed-${transport}`;
      const client = await connected(user, transport);
      const removed = subscribed(client, "team:removed");
      const kept = subscribed(client, "team:kept");
      await Promise.all([removed.ready, kept.ready]);
      const told = deadline(new Promise<UnsubscribedContext>((resolve) => removed.subscription.on("unsubscribed", resolve)), "unsubscribed");
      const answer = await postJson(`${hub.url}/api/unsubscribe`, { user, channel: "team:removed", reason: "left the team" });
      assert.equal(answer.body.connections, 1);
      const context = { channel: "team:removed", code: "server_unsubscribe", reason: "left the team" };
      assert.deepEqual(await told, context);
      assert.deepEqual([removed.subscription.state.status, removed.subscription.state.unsubscribed], ["unsubscribed", context]);
      assert.equal(client.channel("team:removed"), undefined);

      const reconnecting = waitForState(client, "reconnecting");
      await postJson(`${hub.url}/api/disconnect`, { user, reconnect: true });
      await reconnecting;
      await waitForState(client, "connected");
      await until("the kept subscription again", () => kept.subscription.state.status === "subscribed");
      const info = await getJson(`${hub.url}/api/channels/team:removed`);
      assert.equal(info.body.subscribers, 0, "the removed channel was not asked for again");
      assert.equal(removed.subscription.state.status, "unsubscribed");
    });

    it(`${transport}: a subscription the server made is announced and held like the client's own`, async () => {
      const user = `made-${transport}`;
      const client = await connected(user, transport);
      // SSE needs a channel to open its stream; the WebSocket needs none.
      if (transport === "sse") await subscribed(client, "team:anchor").ready;
      await until(`${user}'s connection on the server`, () => sessionsOf(user) > 0);
      const announced = deadline(new Promise<{ channel: string }>((resolve) => client.on("server_subscribed", resolve)), "server_subscribed");
      const answer = await postJson(`${hub.url}/api/subscribe`, { user, channel: "team:made" });
      assert.equal(answer.body.connections, 1);
      assert.deepEqual(await announced, { channel: "team:made" });
      assert.equal(client.channel("team:made")?.state.status, "subscribed");
      const handle = client.subscribe("team:made");
      const received = deadline(new Promise((resolve) => handle.on("note", resolve)), "an event on the server-made subscription");
      await hub.herald.publish("team:made", "note", { n: 1 });
      assert.deepEqual(await received, { n: 1 });

      // After a reconnect the client asks for it itself and recovers what it missed meanwhile.
      const recovered = deadline(new Promise<boolean>((resolve) => handle.on("subscribed", (context) => resolve(context.recovered))), "the resubscribe");
      const missed: unknown[] = [];
      handle.on("note", (data) => missed.push(data));
      const reconnecting = waitForState(client, "reconnecting");
      await postJson(`${hub.url}/api/disconnect`, { user, reconnect: true });
      await reconnecting;
      await hub.herald.publish("team:made", "note", { n: 2 });
      assert.equal(await recovered, true);
      await until("the event published during the reconnect", () => missed.length === 1);
      assert.deepEqual(missed, [{ n: 2 }]);
      handle.unsubscribe();
    });
  }
});
