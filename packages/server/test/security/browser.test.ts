/** Browser defences: cross-site WebSocket hijacking, CORS, security headers, the admin token. */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TestClient, getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { HonestClient, assertAlive, upgradeStatus } from "./attack-support.js";

const ADMIN = "admin-token-for-tests-0123456789";

describe("browser defences", () => {
  let hub: RunningHerald;
  let honest: HonestClient;

  before(async () => {
    hub = await startHerald({ security: { allowedOrigins: ["https://app.example"], adminToken: ADMIN, protectMetrics: true } });
    honest = await HonestClient.connect(hub);
  });
  after(async () => {
    await honest.close();
    await hub.close();
  });

  it("a foreign Origin is refused with 403 before the WebSocket upgrade; a listed one is accepted", async () => {
    const foreign = await upgradeStatus(hub, "/ws", { Origin: "https://evil.example" });
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, /origin_not_allowed/);
    const listed = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { origin: "https://app.example" } });
    assert.equal((await listed.subscribe("a:b")).type, "subscribed");
    await listed.close();
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
  });

  it("a foreign Origin cannot open an SSE stream either", async () => {
    const answer = await getJson(`${hub.url}/sse?channel=honest:feed`, { origin: "https://evil.example" });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, "origin_not_allowed");
  });

  it("CORS answers only the allowed origin", async () => {
    const allowed = await fetch(`${hub.url}/api/history?channel=a:b`, { headers: { origin: "https://app.example" } });
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
    const foreign = await fetch(`${hub.url}/api/history?channel=a:b`, { headers: { origin: "https://evil.example" } });
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  });

  it("every answer carries the security headers", async () => {
    const response = await fetch(`${hub.url}/healthz`);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
    assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  });

  it("the status detail and /metrics need the admin token", async () => {
    const summary = await getJson(`${hub.url}/api/status`);
    assert.equal(summary.status, 200);
    assert.equal(typeof summary.body.connections, "number");
    assert.equal(summary.body.integrations, undefined);
    const detail = await getJson(`${hub.url}/api/status`, { authorization: `Bearer ${ADMIN}` });
    assert.equal(typeof detail.body.integrations, "object");
    assert.equal((await fetch(`${hub.url}/metrics`)).status, 401);
    const metrics = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /herald_limit_hits_total/);
  });
});
