import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { verifyWebhook, signWebhook } from "@herald/server";
import { TestClient, getJson, postJson, startHerald } from "../support/herald.js";
import { deadline } from "../support/deadline.js";
import { startReceiver } from "../support/webhook-receiver.js";

const SECRET = "whsec_0123456789abcdef";

describe("webhook sink", () => {
  let ok: Awaited<ReturnType<typeof startReceiver>>;
  let failing: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    ok = await startReceiver(() => 204);
    failing = await startReceiver(() => 500);
  });
  after(async () => {
    await ok.close();
    await failing.close();
  });

  it("POSTs matching events signed with HMAC-SHA256 that the receiver verifies", async () => {
    const hub = await startHerald({ sinks: { webhooks: { endpoints: [{ url: ok.url, secret: SECRET, on: { channel: "orders:*", types: ["order_filled"] } }] } } });
    try {
      await postJson(`${hub.url}/api/publish`, { channel: "orders:1", type: "order_opened", data: {} });
      await postJson(`${hub.url}/api/publish`, { channel: "orders:1", type: "order_filled", data: { qty: 3 } });
      await ok.until(1);
      await deadline(hub.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
      assert.equal(ok.hits.length, 1, "order_opened matched no rule");
      const hit = ok.hits[0]!;
      assert.equal(hit.body.kind, "event");
      assert.deepEqual({ channel: hit.body.event.channel, type: hit.body.event.type, data: hit.body.event.data, offset: hit.body.event.offset }, { channel: "orders:1", type: "order_filled", data: { qty: 3 }, offset: 2 });
      assert.equal(hit.headers["herald-delivery"], hit.body.id);
      const signature = hit.headers["herald-signature"] as string;
      // Checked independently of the project's own code, as a receiver in another language would
      // per docs/integrations.md: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>.
      const parts = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
      assert.ok(parts, `signature header has the documented form: ${signature}`);
      assert.equal(parts[2], createHmac("sha256", SECRET).update(`${parts[1]}.${hit.raw}`).digest("hex"));
      assert.ok(Math.abs(Number(parts[1]) - Date.now() / 1000) < 300, "t is the time of sending");
      assert.equal(verifyWebhook(SECRET, hit.raw, signature), true);
      assert.equal(verifyWebhook(SECRET, hit.raw.replace("3", "4"), signature), false, "a tampered body fails");
      assert.equal(verifyWebhook("another-secret-0000", hit.raw, signature), false, "another secret fails");
      const old = signWebhook(SECRET, hit.raw, Math.floor(Date.now() / 1000) - 3600);
      assert.equal(verifyWebhook(SECRET, hit.raw, old), false, "a replay an hour later fails");
    } finally {
      await hub.close();
    }
  });

  it("reports channel occupied and vacated, presence join and leave", async () => {
    const start = ok.hits.length;
    const hub = await startHerald({
      namespaces: { room: { presence: true } },
      sinks: { webhooks: { endpoints: [{ url: ok.url, secret: SECRET, lifecycle: ["channel.occupied", "channel.vacated", "presence.join", "presence.leave"], channels: ["room:*"] }] } },
    });
    try {
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      await client.subscribe("room:1");
      await client.subscribe("lobby");
      await ok.until(start + 2);
      client.send({ type: "unsubscribe", channel: "room:1" });
      await client.next("unsubscribed");
      await ok.until(start + 4);
      await client.close();
      await deadline(hub.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
      const hits = ok.hits.slice(start);
      assert.deepEqual(hits.map((h) => h.body.kind), ["channel.occupied", "presence.join", "channel.vacated", "presence.leave"]);
      assert.ok(hits.every((h) => h.body.channel === "room:1"), "lobby is outside room:*");
      assert.equal(typeof hits[1]!.body.connectionId, "string");
      assert.ok(hits.every((h) => verifyWebhook(SECRET, h.raw, h.headers["herald-signature"] as string)));
    } finally {
      await hub.close();
    }
  });

  it("retries a failing endpoint with the same delivery id, then dead-letters it in /api/status", async () => {
    const hub = await startHerald({
      sinks: { webhooks: { endpoints: [{ url: failing.url, secret: SECRET, on: { channel: "*" }, attempts: 3, retryDelay: 20 }] } },
    });
    try {
      await postJson(`${hub.url}/api/publish`, { channel: "alerts", type: "disk_full", data: { pct: 99 } });
      await failing.until(3);
      await deadline(hub.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
      assert.equal(failing.hits.length, 3);
      assert.deepEqual(failing.hits.map((h) => h.headers["herald-attempt"]), ["1", "2", "3"]);
      assert.equal(new Set(failing.hits.map((h) => h.body.id)).size, 1);
      const status = (await getJson(`${hub.url}/api/status`, hub.adminHeaders)).body.integrations.webhooks;
      assert.equal(status.endpoints[0].deadLettered, 1);
      assert.equal(status.endpoints[0].retries, 2);
      assert.equal(status.deadLetters.length, 1);
      assert.deepEqual(
        { url: status.deadLetters[0].url, kind: status.deadLetters[0].kind, channel: status.deadLetters[0].channel, attempts: status.deadLetters[0].attempts, error: status.deadLetters[0].error },
        { url: failing.url, kind: "event", channel: "alerts", attempts: 3, error: "HTTP 500" },
      );
      assert.equal(status.store, "memory");
    } finally {
      await hub.close();
    }
  });

  it("with the memory engine, a dead letter retried through the admin API is delivered with its id and fresh tries", async () => {
    let answer = 503;
    const flaky = await startReceiver(() => answer);
    const hub = await startHerald({ sinks: { webhooks: { endpoints: [{ url: flaky.url, secret: SECRET, on: { channel: "*" }, attempts: 2, retryDelay: 20 }] } } });
    try {
      await postJson(`${hub.url}/api/publish`, { channel: "alerts", type: "disk_full", data: { pct: 97 } });
      await flaky.until(2);
      await deadline(hub.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
      const [letter] = (await getJson(`${hub.url}/api/status`, hub.adminHeaders)).body.integrations.webhooks.deadLetters;
      assert.equal(letter.error, "HTTP 503");
      answer = 204;
      assert.deepEqual(await postJson(`${hub.url}/api/admin/dead-letters/retry`, { sink: "webhooks", id: "no-such-delivery" }, hub.adminHeaders), { status: 200, body: { retried: 0 } });
      assert.equal((await postJson(`${hub.url}/api/admin/dead-letters/retry`, { sink: "sms" }, hub.adminHeaders)).body.error.code, "invalid_body");
      assert.deepEqual(await postJson(`${hub.url}/api/admin/dead-letters/retry`, { sink: "webhooks", id: letter.id }, hub.adminHeaders), { status: 200, body: { retried: 1 } });
      await flaky.until(3);
      assert.equal(flaky.hits[2]!.headers["herald-delivery"], letter.id);
      assert.equal(flaky.hits[2]!.headers["herald-attempt"], "1");
      await deadline(hub.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
      const after = (await getJson(`${hub.url}/api/status`, hub.adminHeaders)).body.integrations.webhooks;
      assert.deepEqual(after.deadLetters, []);
      assert.equal(after.endpoints[0].delivered, 1);
    } finally {
      await hub.close();
      await flaky.close();
    }
  });
});
