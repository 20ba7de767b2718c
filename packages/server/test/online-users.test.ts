/**
 * Users online and offline, as a dashboard and a webhook receiver see them: no event for a reload
 * within the grace, one user_offline once the last connection is gone and the grace passed, and,
 * with nodes on Redis, exactly one user_offline per user of a node killed with SIGKILL.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyWebhook, type HeraldConfigInput } from "@herald/server";
import { TestClient, postJson, startHerald, type Frame, type RunningHerald } from "./support/herald.js";
import { deadline } from "./support/deadline.js";
import { startReceiver, type WebhookReceiver } from "./support/webhook-receiver.js";
import { RedisServer, redisServerSkip } from "./support/redis-server.js";
import { startNodeProcess, type NodeProcess } from "./support/node-process.js";

const SECRET = "whsec_online_0123456789";
const DASHBOARD = "dash:users";
const ROUTES = [{ path: "/live/{user}", params: { user: { pattern: "^[a-z]+$" } }, subscribe: ["inbox:{user}"], user: "user" }];

/** The user_online and user_offline events a dashboard saw, as "online alice" / "offline alice". */
function changes(dashboard: TestClient): string[] {
  return dashboard.frames.filter((frame) => frame.channel === DASHBOARD && (frame.type === "user_online" || frame.type === "user_offline")).map(describeChange);
}

function describeChange(frame: Frame): string {
  return `${frame.type === "user_online" ? "online" : "offline"} ${(frame.data as { user: string }).user}`;
}

/**
 * Settles every node (their sweeps claimed what was due and published it), then publishes a
 * marker and waits for it: every change published before it is then in the dashboard's frames.
 */
async function settle(nodes: RunningHerald[], dashboard: TestClient): Promise<void> {
  for (const node of nodes) await node.herald.hub.online!.sweep();
  for (const node of nodes) await node.herald.hub.publishes.settled(5_000);
  const marker = `m${Date.now()}`;
  await postJson(`${nodes[0]!.url}/api/publish`, { channel: DASHBOARD, type: "marker", data: marker });
  await dashboard.next((frame) => frame.type === "marker" && frame.data === marker);
}

describe("users online and offline (memory engine)", () => {
  let receiver: WebhookReceiver;
  let hub: RunningHerald;
  let dashboard: TestClient;
  before(async () => {
    receiver = await startReceiver(() => 204);
    hub = await startHerald({
      routes: ROUTES,
      online: { grace: "2s", channel: DASHBOARD },
      sinks: { webhooks: { endpoints: [{ url: receiver.url, secret: SECRET, lifecycle: ["user.online", "user.offline"] }] } },
    });
    dashboard = await TestClient.open(`${hub.wsUrl}/ws`);
    await dashboard.subscribe(DASHBOARD);
  });
  after(async () => {
    await dashboard.close();
    await hub.close();
    await receiver.close();
  });

  it("makes no event for a reload within the grace, and one user_offline once the last tab closed and the grace passed", async () => {
    const tab = await TestClient.open(`${hub.wsUrl}/live/alice`);
    assert.equal(describeChange(await dashboard.next("user_online")), "online alice");
    const second = await TestClient.open(`${hub.wsUrl}/live/alice`);
    await second.next("subscribed");
    await tab.close();
    // The reload: the page's connection closes, and the reloaded page connects again.
    await second.close();
    const reloaded = await TestClient.open(`${hub.wsUrl}/live/alice`);
    await reloaded.next("subscribed");
    await settle([hub], dashboard);
    assert.deepEqual(changes(dashboard), ["online alice"], "neither the closed tab nor the reload made an event");
    await reloaded.close();
    assert.equal(describeChange(await dashboard.next("user_offline", 10_000)), "offline alice");
    await settle([hub], dashboard);
    assert.deepEqual(changes(dashboard), ["online alice", "offline alice"]);

    await receiver.until(2);
    await deadline(hub.herald.integrations.webhooks!.idle(), "the webhook queue to drain");
    const notices = receiver.hits.filter((hit) => hit.body.user === "alice");
    assert.deepEqual(notices.map((hit) => hit.body.kind), ["user.online", "user.offline"]);
    for (const hit of notices) {
      assert.equal(verifyWebhook(SECRET, hit.raw, hit.headers["herald-signature"] as string), true, "each notice is signed");
      assert.equal(hit.headers["herald-event"], hit.body.kind);
    }
  });

  it("does not count a connection without a user, nor a poll", async () => {
    const anonymous = await TestClient.open(`${hub.wsUrl}/ws`);
    await anonymous.subscribe("inbox:anyone");
    const poll = await fetch(`${hub.url}/api/updates?channel=inbox:anyone`);
    assert.equal(poll.status, 200);
    await anonymous.close();
    const before = changes(dashboard).length;
    await settle([hub], dashboard);
    assert.equal(changes(dashboard).length, before);
  });
});

describe("users online and offline (two nodes on Redis, one killed)", { skip: redisServerSkip() }, () => {
  let redis: RedisServer;
  let dir: string;
  let victim: NodeProcess | undefined;
  const survivors: RunningHerald[] = [];
  before(async () => {
    redis = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), "herald-online-"));
  });
  after(async () => {
    await victim?.kill("SIGKILL");
    await Promise.all(survivors.map((node) => node.close()));
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives each user of a SIGKILLed node exactly one user_offline, claimed by one of the nodes left, once its connections expired", async () => {
    const config: HeraldConfigInput = {
      routes: ROUTES,
      online: { grace: "500ms", channel: DASHBOARD },
      engine: { type: "redis", redisUrl: redis.url, presenceTtl: "3s" },
    };
    const configFile = join(dir, "herald.json");
    writeFileSync(configFile, JSON.stringify(config));
    // Two nodes stay up, so the offline deadlines are raced for: each must still be claimed once.
    survivors.push(await startHerald(config), await startHerald(config));
    victim = await startNodeProcess("victim", {}, 30_000, ["--config", configFile]);
    const dashboard = await TestClient.open(`${survivors[0]!.wsUrl}/ws`);
    await dashboard.subscribe(DASHBOARD);
    const carol = await TestClient.open(`${survivors[1]!.wsUrl}/live/carol`);
    const alice = await TestClient.open(`${victim.wsUrl}/live/alice`);
    const bob = await TestClient.open(`${victim.wsUrl}/live/bob`);
    await Promise.all([carol, alice, bob].map((client) => client.next("subscribed")));
    await dashboard.take(3, "user_online");

    await victim.kill("SIGKILL");
    await Promise.all([alice.closed, bob.closed]);
    const offline = await dashboard.take(2, "user_offline", 20_000);
    assert.deepEqual(offline.map(describeChange).sort(), ["offline alice", "offline bob"]);
    await settle(survivors, dashboard);
    assert.deepEqual(changes(dashboard).sort(), ["offline alice", "offline bob", "online alice", "online bob", "online carol"], "one of each, and carol, on a node still up, stays online");
    await carol.close();
    await dashboard.close();
  });
});
