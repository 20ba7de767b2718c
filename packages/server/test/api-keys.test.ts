import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ApiKeys } from "../src/auth/api-keys.js";
import { getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";

describe("publish API keys", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ publish: { apiKeys: ["old-key-0123456789abcdef", { name: "new", key: "new-key-0123456789abcdef" }] } });
  });
  after(() => hub.close());

  const publish = (headers: Record<string, string>) => postJson(`${hub.url}/api/publish`, { channel: "user:k", type: "t", data: 1 }, headers);

  it("refuses a publish without a key, even from loopback, once keys are configured", async () => {
    const response = await publish({});
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, "unauthorized");
    assert.match(response.body.error.message, /Authorization: Bearer/);
  });

  it("refuses a wrong key", async () => {
    const response = await publish({ authorization: "Bearer not-the-key-0123456789" });
    assert.equal(response.status, 401);
  });

  it("accepts every configured key, so keys rotate without downtime", async () => {
    assert.equal((await publish({ authorization: "Bearer old-key-0123456789abcdef" })).status, 200);
    assert.equal((await publish({ authorization: "Bearer new-key-0123456789abcdef" })).status, 200);
  });

  it("with no key configured, accepts loopback callers only", () => {
    const keys = new ApiKeys({ apiKeys: [], maxBodyBytes: 1, maxBatch: 1 });
    assert.equal(keys.check(undefined, "127.0.0.1").ok, true);
    assert.equal(keys.check(undefined, "::1").ok, true);
    assert.equal(keys.check(undefined, "::ffff:127.0.0.1").ok, true);
    const remote = keys.check(undefined, "203.0.113.9");
    assert.equal(remote.ok, false);
    if (!remote.ok) assert.match(remote.message, /HERALD_API_KEYS/);
  });

  it("the README tour: a fresh hub takes an unauthenticated publish from loopback, and its history reads per the channel's rules", async () => {
    const fresh = await startHerald();
    try {
      const published = await postJson(`${fresh.url}/api/publish`, { channel: "user:alice", type: "balance_update", data: { total: 100 } });
      assert.equal(published.status, 200);
      const history = await getJson(`${fresh.url}/api/history?channel=user:alice`);
      assert.equal(history.status, 200);
      assert.equal(history.body.events[0].data.total, 100);
    } finally {
      await fresh.close();
    }
  });

  it("with HMAC keys and no API key, loopback without a signature may not publish", () => {
    const keys = new ApiKeys({ apiKeys: [], hmacKeys: [{ id: "b", secret: "s".repeat(32) }] });
    const loopback = keys.check(undefined, "127.0.0.1");
    assert.equal(loopback.ok, false);
    if (!loopback.ok) assert.match(loopback.message, /X-Herald-Signature/);
    assert.equal(keys.check("Bearer anything", "127.0.0.1").ok, false);
  });
});
