/**
 * Attacks on connection tokens, over real sockets: forged, expired, `alg: none`, algorithm
 * confusion, wrong issuer or audience, another user's token. Each is refused with its code, the
 * process stays up, and an honest client connected alongside gets every one of its events.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { TestClient, getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { HonestClient, SECRET, assertAlive, hs256, unsignedToken } from "./attack-support.js";

const namespaces = { honest: { subscribe: "public" as const }, user: { personal: true } };

describe("connection tokens (HS256)", () => {
  let hub: RunningHerald;
  let honest: HonestClient;

  before(async () => {
    hub = await startHerald({ auth: { jwt: { secret: SECRET, issuer: "https://id.example", audience: "herald" }, expiryGrace: "600ms" }, namespaces });
    honest = await HonestClient.connect(hub);
  });
  after(async () => {
    await honest.close();
    await hub.close();
  });

  const claims = { sub: "alice", iss: "https://id.example", aud: "herald" };

  it("accepts a valid token: the user may join their own channel", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256(claims, { expiresIn: "1h" })}`);
    assert.equal((await client.subscribe("user:alice")).type, "subscribed");
    await client.close();
  });

  it("forged token (signed with another secret): closed with 4501 unauthorized", async () => {
    const forged = await hs256(claims, { secret: "not-the-secret-at-all-0123456789", expiresIn: "1h" });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${forged}`);
    const error = await client.next("error");
    assert.equal(error.code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });

  it("expired token at connect: closed with 4501", async () => {
    const expired = await hs256(claims, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${expired}`);
    assert.equal((await client.next("error")).code, "token_expired");
    assert.equal((await client.closed).code, 4501);
    // The same in an auth first frame.
    const viaFrame = await TestClient.open(`${hub.wsUrl}/ws`);
    viaFrame.send({ type: "auth", token: expired });
    assert.equal((await viaFrame.next("error")).code, "token_expired");
    assert.equal((await viaFrame.closed).code, 4501);
    await honest.assertReceivesEverything(hub);
  });

  it("a token issued in the future (iat a day ahead) is refused: 4501 on WebSocket, 401 on HTTP, saying so", async () => {
    const now = Math.floor(Date.now() / 1000);
    const issuedAt = (iat: number) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt(iat).setExpirationTime(now + 2 * 86_400).sign(new TextEncoder().encode(SECRET));
    const future = await issuedAt(now + 86_400);
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${future}`);
    const error = await client.next("error");
    assert.equal(error.code, "unauthorized");
    assert.match(String(error.message), /issued in the future/);
    const closed = await client.closed;
    assert.equal(closed.code, 4501);
    assert.match(closed.reason, /issued in the future/);
    const overHttp = await getJson(`${hub.url}/api/history?channel=user:alice&token=${future}`);
    assert.equal(overHttp.status, 401);
    assert.match(overHttp.body.error.message, /issued in the future/);
    // Within auth.jwt.clockTolerance (5 s) a clock a little ahead is forgiven.
    const slightlyAhead = await TestClient.open(`${hub.wsUrl}/ws?token=${await issuedAt(now + 2)}`);
    assert.equal((await slightlyAhead.subscribe("user:alice")).type, "subscribed");
    await slightlyAhead.close();
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });

  it("alg: none token: refused with 4501", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    client.send({ type: "auth", token: unsignedToken({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 }) });
    assert.equal((await client.next("error")).code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });

  it("wrong issuer or audience: refused with 4501", async () => {
    for (const bad of [{ ...claims, iss: "https://evil.example" }, { ...claims, aud: "another-app" }]) {
      const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256(bad, { expiresIn: "1h" })}`);
      assert.equal((await client.next("error")).code, "unauthorized");
      assert.equal((await client.closed).code, 4501);
    }
    await honest.assertReceivesEverything(hub);
  });

  it("a token for another user sent on an open connection: refused with 4501", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256(claims, { expiresIn: "1h" })}`);
    client.send({ type: "auth", token: await hs256({ ...claims, sub: "mallory" }, { expiresIn: "1h" }) });
    assert.equal((await client.next("error")).code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
    await honest.assertReceivesEverything(hub);
  });

  it("no token: public namespaces only (secure by default once auth is configured)", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    assert.equal((await client.subscribe("honest:feed")).type, "subscribed");
    assert.equal((await client.subscribe("news:today")).code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
  });

  it("a token that expires while connected: token_expired frame, a fresh auth frame keeps the connection", async () => {
    const exp = Math.floor(Date.now() / 1000) + 1;
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256(claims, { expiresIn: exp })}`);
    // A witness whose token expires one second later and is never refreshed: once the server has
    // closed it, a full second has passed beyond the refreshed token's expiry + grace, so a server
    // that ignored the fresh token would have closed `client` by then. No clock guessing.
    const witness = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256(claims, { expiresIn: exp + 1 })}`);
    assert.equal((await client.subscribe("user:alice")).type, "subscribed");
    const notice = await client.next("error", 8_000);
    assert.equal(notice.code, "token_expired");
    client.send({ type: "auth", token: await hs256(claims, { expiresIn: "1h" }) });
    assert.equal((await witness.closedWithin(8_000)).code, 4501, "the unrefreshed witness is closed after its grace period");
    assert.equal(client.closeCode, undefined, "the refreshed connection is still open past the old token's expiry + grace");
    await hub.herald.publish("user:alice", "balance", { total: 1 });
    assert.equal(((await client.next("balance")).data as { total: number }).total, 1);
    assert.equal(client.closeCode, undefined);
    await client.close();
  });

  it("a token that expires while connected and is not refreshed: closed with 4501 after the grace period", async () => {
    const shortLived = await hs256(claims, { expiresIn: Math.floor(Date.now() / 1000) + 1 });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${shortLived}`);
    assert.equal((await client.subscribe("user:alice")).type, "subscribed");
    assert.equal((await client.next("error", 8_000)).code, "token_expired");
    assert.equal((await client.closed).code, 4501);
    await honest.assertReceivesEverything(hub);
  });
});

describe("connection tokens (RS256 public key)", () => {
  let hub: RunningHerald;
  let honest: HonestClient;
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicPem = keys.publicKey.export({ type: "spki", format: "pem" }).toString();

  before(async () => {
    hub = await startHerald({ auth: { jwt: { publicKey: publicPem } }, namespaces });
    honest = await HonestClient.connect(hub);
  });
  after(async () => {
    await honest.close();
    await hub.close();
  });

  it("accepts an RS256 token signed with the private key", async () => {
    const token = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("1h").sign(keys.privateKey);
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
    assert.equal((await client.subscribe("user:alice")).type, "subscribed");
    await client.close();
  });

  it("algorithm confusion (HS256 signed with the public key as secret): refused with 4501", async () => {
    const confused = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(publicPem));
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${confused}`);
    assert.equal((await client.next("error")).code, "unauthorized");
    assert.equal((await client.closed).code, 4501);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });
});

describe("connection tokens (JWKS URL)", () => {
  let hub: RunningHerald;
  let jwksServer: Server;
  let fetches = 0;
  const jwks: { keys: unknown[] } = { keys: [] };

  before(async () => {
    jwksServer = createServer((_request, response) => {
      fetches += 1;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
    });
    jwksServer.listen(0, "127.0.0.1");
    await once(jwksServer, "listening");
    const port = (jwksServer.address() as { port: number }).port;
    hub = await startHerald({ auth: { jwt: { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, jwksCooldown: 0 } }, namespaces });
  });
  after(async () => {
    await hub.close();
    jwksServer.close();
  });

  it("verifies with the key set and refetches it when a token names an unknown kid", async () => {
    const first = await generateKeyPair("ES256");
    jwks.keys = [{ ...(await exportJWK(first.publicKey)), kid: "k1", alg: "ES256" }];
    const sign = (key: Parameters<SignJWT["sign"]>[0], kid: string) => new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "ES256", kid }).setExpirationTime("1h").sign(key);
    const a = await TestClient.open(`${hub.wsUrl}/ws?token=${await sign(first.privateKey, "k1")}`);
    assert.equal((await a.subscribe("user:alice")).type, "subscribed");
    const b = await TestClient.open(`${hub.wsUrl}/ws?token=${await sign(first.privateKey, "k1")}`);
    assert.equal((await b.subscribe("user:alice")).type, "subscribed");
    assert.equal(fetches, 1, "the key set is cached");
    // Key rotation: a new kid appears in the set; the hub fetches it again.
    const second = await generateKeyPair("ES256");
    jwks.keys.push({ ...(await exportJWK(second.publicKey)), kid: "k2", alg: "ES256" });
    const c = await TestClient.open(`${hub.wsUrl}/ws?token=${await sign(second.privateKey, "k2")}`);
    assert.equal((await c.subscribe("user:alice")).type, "subscribed");
    assert.equal(fetches, 2);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});

describe("static token mode (one shared token)", () => {
  let hub: RunningHerald;
  const token = "analytics-shared-token-0123456789";

  before(async () => {
    hub = await startHerald(
      { auth: { token, required: true, cookie: "herald_token" }, routes: [{ path: "/ws", subscribe: ["analytics:snapshots"], envelope: "flat" }] },
      { env: {} },
    );
  });
  after(() => hub.close());

  it("?token= must equal the configured token; the route's channels follow", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${token}`);
    await client.next("subscribed");
    await hub.herald.publish("analytics:snapshots", "snapshot_update", { total: 3 });
    assert.equal((await client.next("snapshot_update")).total, 3);
    await client.close();
  });

  it("a wrong token is closed with 4501, and no token at all cannot subscribe", async () => {
    const wrong = await TestClient.open(`${hub.wsUrl}/ws?token=guess-guess-guess-guess`);
    assert.equal((await wrong.closed).code, 4501);
    const none = await TestClient.open(`${hub.wsUrl}/ws`);
    none.send({ type: "subscribe", channel: "analytics:snapshots" });
    assert.equal((await none.next("error")).code, "unauthorized");
    assert.equal((await none.closed).code, 4501);
    const poll = await getJson(`${hub.url}/api/updates?channel=analytics:snapshots`);
    assert.equal(poll.status, 401);
  });

  it("on a route the token comes from the URL or the cookie; with neither the connection is refused at once", async () => {
    const viaCookie = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { cookie: `other=1; herald_token=${token}` } });
    await viaCookie.next("subscribed");
    await viaCookie.close();
    // A client written against the route's URL has no auth frame to send: it learns at once (4501),
    // instead of idling out after 30 s.
    const without = await TestClient.open(`${hub.wsUrl}/ws`);
    assert.equal((await without.closedWithin(5_000)).code, 4501);
  });
});
