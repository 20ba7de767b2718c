/**
 * Another user's channel (IDOR), by every transport: WebSocket, SSE, polling, history and
 * presence. Alice holds a valid token and asks for Bob's personal channel; every transport
 * refuses, none leaks an event, and Bob (the honest client) gets every one of his. Coming from
 * loopback (as every client does behind a reverse proxy on the same host) changes nothing.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "../support/herald.js";
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

  it("WebSocket: subscribing to user:bob with Alice's token is forbidden, and her own subscription goes on", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    const answer = await client.subscribe("user:bob", { since: { epoch: "x", offset: 0 } });
    assert.equal(answer.type, "error");
    assert.equal(answer.code, "forbidden");
    // The refusal is that channel's alone: the connection stays, and her own channel still works.
    const own = await client.subscribe("user:alice");
    assert.equal(own.type, "subscribed");
    await hub.herald.publish("user:alice", "note", { n: 1 });
    await client.next((frame) => frame.type === "note");
    assert.equal(client.frames.some((frame) => frame.type === "secret"), false);
    await client.close();
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
    // The allowed subscription outlives the refused one.
    await hub.herald.publish("feed:prices", "tick", { p: 1 });
    await client.next((frame) => frame.type === "tick");
    await client.close();
  });

  it("private channels need a subscription token naming that channel", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    const wrongChannel = await hs256({ sub: "alice", channel: "private:other" }, { expiresIn: "5m" });
    const right = await hs256({ sub: "alice", channel: "private:room1" }, { expiresIn: "5m" });
    assert.equal((await client.subscribe("private:room1", { token: right })).type, "subscribed");
    const again = await TestClient.open(`${hub.wsUrl}/ws?token=${alice}`);
    assert.equal((await again.subscribe("private:room1", { token: wrongChannel })).code, "forbidden");
    assert.equal((await again.subscribe("private:room1", { token: right })).type, "subscribed");
    await again.close();
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

const API_KEY = "backend-api-key-0123456789";
const HMAC_KEY = { id: "backend", secret: "backend-hmac-secret-0123456789" };

/** Headers of a signed read: the signature covers the timestamp and the request target. */
function signedRead(target: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac("sha256", HMAC_KEY.secret).update(`${timestamp}.${target}`).digest("hex");
  return { "x-herald-key-id": HMAC_KEY.id, "x-herald-timestamp": timestamp, "x-herald-signature": signature };
}

// Every way a backend can be configured. The test client is on loopback, like a browser behind nginx.
const backends = [
  { name: "nothing configured", publish: {} },
  { name: "API keys", publish: { apiKeys: [API_KEY] } },
  { name: "HMAC keys", publish: { hmacKeys: [HMAC_KEY] } },
  { name: "API keys and HMAC keys", publish: { apiKeys: [API_KEY], hmacKeys: [HMAC_KEY] } },
];

for (const backend of backends) {
  describe(`a loopback caller with an Authorization header, ${backend.name}`, () => {
    let hub: RunningHerald;
    let bob: HonestClient;
    const bogus = { authorization: "Bearer x" };

    before(async () => {
      hub = await startHerald({
        auth: { jwt: { secret: SECRET } },
        namespaces: { user: { personal: true, presence: true } },
        publish: backend.publish,
      });
      bob = await HonestClient.connect(hub, "user:bob", `?token=${await hs256({ sub: "bob" }, { expiresIn: "1h" })}`);
      await hub.herald.publish("user:bob", "secret", { pin: 1234 });
    });
    after(async () => {
      await bob.close();
      await hub.close();
    });

    for (const read of ["history", "presence"]) {
      it(`${read} of user:bob: 401 with a header that is not a configured key, as without any credential`, async () => {
        const target = `/api/${read}?channel=user:bob`;
        const withHeader = await getJson(`${hub.url}${target}`, bogus);
        assert.equal(withHeader.status, 401, JSON.stringify(withHeader.body));
        assert.equal(withHeader.body.error.code, "unauthorized");
        assert.doesNotMatch(JSON.stringify(withHeader.body), /1234|"user":"bob"/);
        const alice = await hs256({ sub: "alice" }, { expiresIn: "1h" });
        assert.equal((await getJson(`${hub.url}${target}&token=${alice}`, bogus)).status, 401, "a wrong key is refused, not ignored");
        assert.equal((await getJson(`${hub.url}${target}&token=${alice}`)).status, 403);
        assert.equal((await getJson(`${hub.url}${target}`)).status, 401);
        await bob.assertReceivesEverything(hub, 5);
      });

      it(`${read} of user:bob: the backend reads it with its own credential`, async () => {
        const target = `/api/${read}?channel=user:bob`;
        const bobToken = await hs256({ sub: "bob" }, { expiresIn: "1h" });
        assert.equal((await getJson(`${hub.url}${target}&token=${bobToken}`)).status, 200, "bob reads his own channel");
        const publish = backend.publish as { apiKeys?: string[]; hmacKeys?: unknown[] };
        if (publish.apiKeys) {
          const answer = await getJson(`${hub.url}${target}`, { authorization: `Bearer ${API_KEY}` });
          assert.equal(answer.status, 200);
          assert.match(JSON.stringify(answer.body), read === "history" ? /1234/ : /"user":"bob"/);
        }
        if (publish.hmacKeys) {
          const headers = signedRead(target);
          assert.equal((await getJson(`${hub.url}${target}`, headers)).status, 200);
          const replay = await getJson(`${hub.url}${target}`, headers);
          assert.equal(replay.body.error.code, "replayed_request");
          const moved = await getJson(`${hub.url}/api/${read}?channel=user:carol`, signedRead(target));
          assert.equal(moved.body.error.code, "invalid_signature", "the signature is bound to the channel read");
        }
      });
    }

    it("publish: the header is refused as an invalid key; without it only an unconfigured hub trusts loopback", async () => {
      const event = { channel: "user:bob", type: "notice", data: null };
      const withHeader = await postJson(`${hub.url}/api/publish`, event, bogus);
      assert.equal(withHeader.status, 401);
      assert.equal(withHeader.body.error.code, "unauthorized");
      const bare = await postJson(`${hub.url}/api/publish`, event);
      assert.equal(bare.status, backend.name === "nothing configured" ? 200 : 401, JSON.stringify(bare.body));
    });
  });
}
