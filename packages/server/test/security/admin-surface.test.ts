/**
 * The admin surface (dashboard, admin feed, channel list, status detail, dead-letter retry, protected /metrics) trusts
 * no address: behind a reverse proxy on the same host every browser arrives from loopback. With no
 * admin token configured the hub generates one at start, and only that token opens it.
 *
 * The dashboard is served from a directory holding one small page (HERALD_DASHBOARD_DIR), so the
 * test sees the page itself behind the guard without building the real one.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClient, getJson, postJson, startHerald, type RunningHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";

const PAGE = "<!doctype html><title>admin surface test page</title>";
const SECRET_CHANNEL = "orders:acme-secret";

describe("the admin surface with no admin token configured", () => {
  let hub: RunningHerald;
  let subscriber: TestClient;
  let pageDir = "";
  const previousDir = process.env.HERALD_DASHBOARD_DIR;

  before(async () => {
    pageDir = await mkdtemp(join(tmpdir(), "herald-admin-page-"));
    await writeFile(join(pageDir, "index.html"), PAGE);
    process.env.HERALD_DASHBOARD_DIR = pageDir;
    hub = await startHerald({ security: { protectMetrics: true } });
    subscriber = await TestClient.open(`${hub.wsUrl}/ws`);
    subscriber.send({ type: "subscribe", channel: SECRET_CHANNEL });
    await subscriber.next("subscribed");
  });
  after(async () => {
    subscriber?.socket.close();
    await hub?.close();
    if (previousDir === undefined) delete process.env.HERALD_DASHBOARD_DIR;
    else process.env.HERALD_DASHBOARD_DIR = previousDir;
    await rm(pageDir, { recursive: true, force: true });
  });

  const refusals: Array<{ what: string; headers: Record<string, string> }> = [
    { what: "no token", headers: {} },
    { what: "a wrong Bearer token", headers: { authorization: "Bearer not-the-admin-token" } },
    { what: "a wrong admin cookie", headers: { cookie: "herald_admin=not-the-admin-token" } },
  ];

  for (const { what, headers } of refusals) {
    it(`refuses a loopback caller with ${what}: 401 on the dashboard, the admin feed and the channel list`, async () => {
      for (const path of ["/dashboard", "/dashboard/", "/dashboard/index.html", "/api/admin/events", "/api/admin/channels", "/metrics"]) {
        const answer = await getJson(`${hub.url}${path}`, headers);
        assert.equal(answer.status, 401, `${path} with ${what}`);
        assert.equal(answer.body.error.code, "unauthorized", path);
        assert.match(answer.body.error.message, /admin token/, path);
      }
      const retry = await postJson(`${hub.url}/api/admin/dead-letters/retry`, {}, headers);
      assert.equal(retry.status, 401, `the dead-letter retry with ${what}`);
      assert.equal(retry.body.error.code, "unauthorized");
    });
  }

  it("a wrong token in the dashboard URL is refused with 401 and sets no cookie", async () => {
    const answer = await fetch(`${hub.url}/dashboard?token=not-the-admin-token`, { redirect: "manual" });
    assert.equal(answer.status, 401);
    assert.equal(answer.headers.get("set-cookie"), null);
    assert.equal(((await answer.json()) as { error: { code: string } }).error.code, "unauthorized");
  });

  it("status detail: a wrong token is refused with 401; no token gets the public counts only", async () => {
    const wrong: Array<Record<string, string>> = [{ authorization: "Bearer not-the-admin-token" }, { cookie: "herald_admin=not-the-admin-token" }];
    for (const headers of wrong) {
      const refused = await getJson(`${hub.url}/api/status`, headers);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, "unauthorized");
    }
    const publicView = await fetch(`${hub.url}/api/status`);
    assert.equal(publicView.status, 200);
    const text = await publicView.text();
    assert.doesNotMatch(text, new RegExp(SECRET_CHANNEL), "no channel name in the public status");
    const body = JSON.parse(text) as Record<string, unknown> & { engine: Record<string, unknown> };
    assert.equal(body.channels, 1);
    assert.equal(body.subscriptions, 1);
    assert.deepEqual(Object.keys(body.engine).sort(), ["available", "name"]);
    assert.equal(body.errors, undefined);
    assert.equal(body.integrations, undefined);
    assert.match(String(body.detail), /admin token/);
  });

  it("generates a strong admin token per process", async () => {
    assert.match(hub.herald.adminToken, /^[A-Za-z0-9_-]{43}$/);
    const other = await startHerald();
    try {
      assert.notEqual(other.herald.adminToken, hub.herald.adminToken);
      assert.equal((await getJson(`${other.url}/api/admin/channels`, hub.adminHeaders)).status, 401, "one hub's token opens no other hub");
    } finally {
      await other.close();
    }
  });

  it("the generated token opens the dashboard (through its cookie), the admin feed, the channel list and the status detail", async () => {
    const unlock = await fetch(`${hub.url}/dashboard?token=${hub.herald.adminToken}`, { redirect: "manual" });
    assert.equal(unlock.status, 303);
    assert.equal(unlock.headers.get("location"), "/dashboard/");
    const cookie = (unlock.headers.get("set-cookie") ?? "").split(";")[0]!;
    assert.equal(cookie, `herald_admin=${hub.herald.adminToken}`);

    const page = await fetch(`${hub.url}/dashboard/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.equal(await page.text(), PAGE);

    const channels = await getJson(`${hub.url}/api/admin/channels`, { cookie });
    assert.equal(channels.status, 200);
    assert.deepEqual(channels.body.channels, [{ channel: SECRET_CHANNEL, subscribers: 1 }]);

    const detail = await getJson(`${hub.url}/api/status`, hub.adminHeaders);
    assert.equal(detail.status, 200);
    assert.equal(typeof detail.body.engine.details, "object");
    assert.equal(typeof detail.body.integrations, "object");
    assert.equal(detail.body.detail, undefined);

    assert.equal((await fetch(`${hub.url}/metrics`, { headers: { cookie } })).status, 200);

    const feed = await SseReader.open(`${hub.url}/api/admin/events`, hub.adminHeaders);
    try {
      assert.equal(feed.response.status, 200);
      await feed.waitFor("hello");
      assert.equal((await postJson(`${hub.url}/api/publish`, { channel: SECRET_CHANNEL, type: "filled", data: { id: 1 } })).status, 200);
      const [event] = await feed.waitFor("message");
      assert.equal(event!.data.channel, SECRET_CHANNEL);
    } finally {
      feed.close();
    }
  });
});

describe("the admin surface with security.adminToken configured", () => {
  it("uses the configured token, not a generated one", async () => {
    const hub = await startHerald({ security: { adminToken: "configured-admin-token-0123456789" } });
    try {
      assert.equal(hub.herald.adminToken, "configured-admin-token-0123456789");
      assert.equal((await getJson(`${hub.url}/api/admin/channels`)).status, 401);
      assert.equal((await getJson(`${hub.url}/api/admin/channels`, { authorization: "Bearer configured-admin-token-0123456789" })).status, 200);
    } finally {
      await hub.close();
    }
  });
});
