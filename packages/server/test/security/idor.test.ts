/**
 * Another user's channel (IDOR), by every transport: WebSocket, SSE, polling and history. Alice
 * holds a valid token and asks for Bob's personal channel; every transport refuses, none leaks
 * an event, and Bob (the honest client) gets every one of his.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TestClient, getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";
import { HonestClient, SECRET, assertAlive, hs256 } from "./attack-support.js";

describe("another user's channel (IDOR)", () => {
  let hub: RunningHerald;
  let bob: HonestClient;
  let alice: string;

  before(async () => {
    hub = await startHerald({
      auth: { jwt: { secret: SECRET } },
      namespaces: { user: { personal: true }, private: { subscribe: "token" }, feed: { subscribe: "public" } },
      routes: [{ path: "/api/ws/{address}", params: { address: { pattern: "^0x[0-9a-fA-F]{40}$" } }, subscribe: ["wallet:{address}"] }],
    });
    alice = await hs256({ sub: "alice" }, { expiresIn: "1h" });
    bob = await HonestClient.connect(hub, "user:bob", `?token=${await hs256({ sub: "bob" }, { expiresIn: "1h" })}`);
    await hub.herald.publish("user:bob", "secret", { pin: 1234 });
  });
  after(async () => {
    await bob.close();
    await hub.close();
  });

  it("WebSocket: subscribing to user:bob with Alice's token is forbidden (4503)", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    const answer = await client.subscribe("user:bob", { since: { epoch: "x", offset: 0 } });
    assert.equal(answer.type, "error");
    assert.equal(answer.code, "forbidden");
    assert.equal((await client.closed).code, 4503);
    assert.equal(client.frames.some((frame) => frame.type === "secret"), false);
    await assertAlive(hub);
    await bob.assertReceivesEverything(hub);
  });

  it("SSE: the stream answers forbidden for user:bob and carries none of its events", async () => {
    const stream = await SseReader.open(`${hub.url}/sse?channel=user:bob&token=${alice}`);
    const [error] = await stream.waitFor("error");
    assert.equal(error!.data.code, "forbidden");
    await hub.herald.publish("user:bob", "secret", { pin: 5678 });
    await bob.assertReceivesEverything(hub, 5);
    // Nothing of user:bob at all: besides the refusal, no record names the channel (no subscribed,
    // no event of any type, no history) and none carries his data.
    const leaked = stream.records.filter((record) => record !== error && /user:bob|1234|5678/.test(JSON.stringify(record)));
    assert.deepEqual(leaked, []);
    assert.equal(JSON.stringify(error).includes("1234"), false);
    stream.close();
  });

  it("polling: 403 forbidden", async () => {
    const answer = await getJson(`${hub.url}/api/updates?channel=user:bob&token=${alice}`);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, "forbidden");
    assert.equal(JSON.stringify(answer.body).includes("1234"), false);
  });

  it("history: 403 forbidden; with no token at all, 401", async () => {
    const withToken = await getJson(`${hub.url}/api/history?channel=user:bob&token=${alice}`);
    assert.equal(withToken.status, 403);
    assert.equal(withToken.body.error.code, "forbidden");
    const anonymous = await getJson(`${hub.url}/api/history?channel=user:bob`);
    assert.equal(anonymous.status, 401);
    const own = await getJson(`${hub.url}/api/history?channel=user:alice&token=${alice}`);
    assert.equal(own.status, 200);
    await bob.assertReceivesEverything(hub, 5);
  });

  it("a token whose channels claim does not list a channel cannot join it", async () => {
    const limited = await hs256({ sub: "carol", channels: ["feed:*"] }, { expiresIn: "1h" });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${limited}`);
    assert.equal((await client.subscribe("feed:prices")).type, "subscribed");
    assert.equal((await client.subscribe("user:carol")).code, "forbidden");
    await client.closed;
  });

  it("private channels need a subscription token naming that channel", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    const wrongChannel = await hs256({ sub: "alice", channel: "private:other" }, { expiresIn: "5m" });
    const right = await hs256({ sub: "alice", channel: "private:room1" }, { expiresIn: "5m" });
    assert.equal((await client.subscribe("private:room1", { token: right })).type, "subscribed");
    const again = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    assert.equal((await again.subscribe("private:room1", { token: wrongChannel })).code, "forbidden");
    await again.closed;
    await client.close();
  });

  it("a route's validated parameter grants its channel (the deployment's choice), without a token", async () => {
    const address = "0x52908400098527886E0F7030069857D2E4169EE7";
    const client = await TestClient.open(`${hub.wsUrl}/api/ws/${address}`);
    await client.next("subscribed");
    await hub.herald.publish(`wallet:${address}`, "deposit", { amount: 1 });
    assert.equal(((await client.next("deposit")).data as { amount: number }).amount, 1);
    await client.close();
  });
});
