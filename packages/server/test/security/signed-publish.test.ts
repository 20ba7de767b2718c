/** HMAC-signed publish requests: a replayed, stale or forged request is refused; Idempotency-Key stores once. */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { HmacVerifier } from "../../src/auth/hmac-signature.js";
import type { HeraldError } from "../../src/shared/herald-error.js";
import { getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { HonestClient, assertAlive } from "./attack-support.js";

const KEY = { id: "billing", secret: "hmac-secret-for-tests-0123456789" };

function signed(body: string, options: { timestamp?: number; secret?: string; keyId?: string; idempotencyKey?: string } = {}): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = createHmac("sha256", options.secret ?? KEY.secret).update(`${timestamp}.${body}`).digest("hex");
  return {
    "content-type": "application/json",
    "x-herald-key-id": options.keyId ?? KEY.id,
    "x-herald-timestamp": timestamp,
    "x-herald-signature": signature,
    ...(options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : {}),
  };
}

async function post(hub: RunningHerald, body: string, headers: Record<string, string>) {
  const response = await fetch(`${hub.url}/api/publish`, { method: "POST", headers, body });
  return { status: response.status, body: (await response.json()) as any, replayed: response.headers.get("idempotent-replayed") };
}

describe("signed publish requests", () => {
  let hub: RunningHerald;
  let honest: HonestClient;

  before(async () => {
    hub = await startHerald({ publish: { hmacKeys: [KEY] } });
    honest = await HonestClient.connect(hub);
  });
  after(async () => {
    await honest.close();
    await hub.close();
  });

  it("a correctly signed request publishes", async () => {
    const body = JSON.stringify({ channel: "billing:1", type: "paid", data: { n: 1 } });
    const answer = await post(hub, body, signed(body));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.published[0].offset, 1);
  });

  it("a replayed signed publish is refused with 401 replayed_request and stores nothing", async () => {
    const body = JSON.stringify({ channel: "billing:2", type: "paid", data: { n: 1 } });
    const headers = signed(body);
    assert.equal((await post(hub, body, headers)).status, 200);
    const replay = await post(hub, body, headers);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error.code, "replayed_request");
    const history = await getJson(`${hub.url}/api/history?channel=billing:2`);
    assert.equal(history.body.events.length, 1);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });

  it("a request signed outside the replay window is refused with 401 stale_request", async () => {
    const body = JSON.stringify({ channel: "billing:3", type: "paid", data: null });
    const old = await post(hub, body, signed(body, { timestamp: Math.floor(Date.now() / 1000) - 601 }));
    assert.equal(old.status, 401);
    assert.equal(old.body.error.code, "stale_request");
  });

  it("a forged signature, a changed body or an unknown key id is refused with 401 invalid_signature", async () => {
    const body = JSON.stringify({ channel: "billing:4", type: "paid", data: { amount: 1 } });
    const forged = await post(hub, body, signed(body, { secret: "attacker-secret-0123456789abcdef" }));
    assert.equal(forged.body.error.code, "invalid_signature");
    const tampered = await post(hub, body.replace("1", "1000"), signed(body));
    assert.equal(tampered.body.error.code, "invalid_signature");
    const unknown = await post(hub, body, signed(body, { keyId: "nobody" }));
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error.code, "invalid_signature");
  });

  it("unsigned requests are refused once HMAC keys are configured, even from loopback", async () => {
    const answer = await post(hub, JSON.stringify({ channel: "billing:5", type: "paid", data: null }), { "content-type": "application/json" });
    assert.equal(answer.status, 401);
  });

  it("a retried publish with the same Idempotency-Key is stored once and answered the same", async () => {
    const body = JSON.stringify({ channel: "billing:6", type: "paid", data: { n: 1 } });
    const first = await post(hub, body, signed(body, { idempotencyKey: "order-77" }));
    const retry = await post(hub, body, signed(body, { idempotencyKey: "order-77" }));
    const exactRetry = await post(hub, body, signed(body, { idempotencyKey: "order-77" }));
    assert.equal(first.status, 200);
    assert.deepEqual(retry.body, first.body);
    assert.deepEqual(exactRetry.body, first.body);
    assert.equal(retry.replayed, "true");
    const history = await getJson(`${hub.url}/api/history?channel=billing:6`);
    assert.equal(history.body.events.length, 1);
  });
});

describe("signed publish requests dated in the future", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ publish: { hmacKeys: [KEY], replayWindow: "4s" } });
  });
  after(() => hub.close());

  it("are accepted once, ever: still refused after one window from arrival, while the timestamp is in the window", async () => {
    const body = JSON.stringify({ channel: "billing:future", type: "paid", data: { n: 1 } });
    const headers = signed(body, { timestamp: Math.floor(Date.now() / 1000) + 3 });
    const arrival = Date.now();
    assert.equal((await post(hub, body, headers)).status, 200);
    assert.equal((await post(hub, body, headers)).body.error.code, "replayed_request");
    // No event marks the moment: this is time passing. Past arrival + window, the timestamp is
    // still 1.6 to 2.6 s old, inside the 4 s window.
    await delay(arrival + 4_600 - Date.now());
    const late = await post(hub, body, headers);
    assert.equal(late.status, 401, `a replay 4.6 s later was answered ${late.status}`);
    assert.equal(late.body.error.code, "replayed_request");
    const history = await getJson(`${hub.url}/api/history?channel=billing:future`);
    assert.equal(history.body.events.length, 1, "delivered once");
  });
});

describe("replay memory", () => {
  const config = { apiKeys: [], maxBodyBytes: 1, maxBatch: 1, hmacKeys: [KEY], replayWindow: 4_000, idempotencyKeys: 0 };
  const replayKey = (timestamp: number, n: number) => `${timestamp}:${KEY.id}:${String(n).padStart(64, "0")}`;

  it("forgets a signature only once its timestamp has left the window", () => {
    const verifier = new HmacVerifier(config);
    const now = 1_000_000_000_000;
    const timestamp = now / 1000 + 3;
    verifier.claim(replayKey(timestamp, 1), now);
    const stillRemembered = () => verifier.claim(replayKey(timestamp, 1), timestamp * 1000 + 4_000);
    assert.throws(stillRemembered, (error: HeraldError) => error.code === "replayed_request");
    assert.doesNotThrow(() => verifier.claim(replayKey(timestamp, 1), timestamp * 1000 + 5_001));
  });

  it("when full of signatures still in their window, refuses new ones (rate_limited) rather than forget one", () => {
    const verifier = new HmacVerifier(config);
    const now = 1_000_000_000_000;
    let n = 0;
    assert.throws(
      () => {
        // Bounded, so a memory that evicts instead fails here rather than spinning forever.
        while (n < 200_000) verifier.claim(replayKey(now / 1000, ++n), now);
      },
      (error: HeraldError) => error.code === "rate_limited",
    );
    assert.throws(() => verifier.claim(replayKey(now / 1000, 1), now + 1_000), (error: HeraldError) => error.code === "replayed_request");
    assert.doesNotThrow(() => verifier.claim(replayKey(now / 1000, n), now + 5_001));
  });
});
