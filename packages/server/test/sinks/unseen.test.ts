/**
 * "If unseen, email it": an email rule with `unseen: 1s` mails a bettor only when no connection of
 * theirs acknowledged the event within the second, through a real SMTP server; exactly once, also
 * when the node that published the event (and stored its deadline) is SIGKILLed. A webhook endpoint
 * with `unseen: 1s` POSTs, to a real HTTP receiver, only the events nobody acknowledged in time, on
 * the memory engine and across two nodes on the Redis engine.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HeraldConfigInput } from "@herald/server";
import { TestClient, postJson, startHerald, type RunningHerald } from "../support/herald.js";
import { deadline, waitUntil } from "../support/deadline.js";
import { startSmtp, type SmtpSink } from "../support/smtp-server.js";
import { RedisServer, redisServerSkip } from "../support/redis-server.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { startReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { startNodeProcess, type NodeProcess } from "../support/node-process.js";

const ROUTES = [{ path: "/ws/bet-updates/{user}", params: { user: { pattern: "^[a-z]+$" } }, subscribe: ["bets:{user}"], user: "user" }];

function config(smtp: SmtpSink): HeraldConfigInput {
  return {
    routes: ROUTES,
    namespaces: { bets: { receipts: true } },
    sinks: {
      email: {
        smtp: { host: "127.0.0.1", port: smtp.port },
        rules: [{ on: { channel: "bets:*", types: ["bet_resolved"] }, to: "{data.email}", subject: "Bet {data.bet_id} resolved", text: "{data.result}", unseen: "1s" }],
      },
    },
  };
}

const resolved = (user: string, bet: number) => ({ channel: `bets:${user}`, type: "bet_resolved", data: { bet_id: bet, email: `${user}@example.test`, result: "won" } });
const mailsTo = (smtp: SmtpSink, user: string): number => smtp.messages.filter((message) => message.to.includes(`${user}@example.test`)).length;

/** Waits until every deadline of the nodes was settled, then until their emails left. */
async function settle(nodes: RunningHerald[], settled: () => boolean): Promise<void> {
  await waitUntil("the unseen deadlines to be settled", async () => {
    for (const node of nodes) await node.herald.integrations.unseen!.sweep();
    return settled();
  }, 20_000);
  for (const node of nodes) await deadline(node.herald.integrations.email!.idle(), "the email queue to drain");
}

const unseenTotals = (nodes: RunningHerald[]) => {
  const statuses = nodes.map((node) => node.herald.integrations.unseen!.status());
  return { seen: statuses.reduce((sum, status) => sum + status.seen, 0), delivered: statuses.reduce((sum, status) => sum + status.delivered, 0) };
};

describe("unseen email rules (memory engine)", () => {
  let smtp: SmtpSink;
  let hub: RunningHerald;
  before(async () => {
    smtp = await startSmtp();
    hub = await startHerald(config(smtp));
  });
  after(async () => {
    await hub.close();
    await smtp.close();
  });

  it("mails nobody who acknowledged the event in time, and exactly once a user with no connection and one whose client never acknowledges", async () => {
    const watching = await TestClient.open(`${hub.wsUrl}/ws/bet-updates/alice`);
    const stuck = await TestClient.open(`${hub.wsUrl}/ws/bet-updates/carol`);
    assert.equal((await watching.next("subscribed")).receipts, true);
    await stuck.next("subscribed");

    for (const user of ["alice", "bob", "carol"]) assert.equal((await postJson(`${hub.url}/api/publish`, resolved(user, 7))).status, 200);
    const toast = await watching.next("bet_resolved");
    watching.send({ type: "ack", channel: "bets:alice", offset: toast.offset });
    await stuck.next("bet_resolved");

    await settle([hub], () => unseenTotals([hub]).seen + unseenTotals([hub]).delivered === 3);
    assert.deepEqual(unseenTotals([hub]), { seen: 1, delivered: 2 });
    assert.equal(mailsTo(smtp, "alice"), 0, "alice saw the toast");
    assert.equal(mailsTo(smtp, "bob"), 1, "bob had no connection");
    assert.equal(mailsTo(smtp, "carol"), 1, "carol's client never acknowledged");
    await watching.close();
    await stuck.close();
  });
});

describe("unseen email rules (nodes on Redis, the publishing node killed)", { skip: redisServerSkip() }, () => {
  let smtp: SmtpSink;
  let redis: RedisServer;
  let dir: string;
  let victim: NodeProcess | undefined;
  const survivors: RunningHerald[] = [];
  before(async () => {
    smtp = await startSmtp();
    redis = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), "herald-unseen-"));
  });
  after(async () => {
    await victim?.kill("SIGKILL");
    await Promise.all(survivors.map((node) => node.close()));
    await redis.close();
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends exactly one email when the node that stored the deadline is SIGKILLed before it is due", async () => {
    const nodeConfig: HeraldConfigInput = { ...config(smtp), engine: { type: "redis", redisUrl: redis.url } };
    const configFile = join(dir, "herald.json");
    writeFileSync(configFile, JSON.stringify(nodeConfig));
    survivors.push(await startHerald(nodeConfig), await startHerald(nodeConfig));
    victim = await startNodeProcess("victim", {}, 30_000, ["--config", configFile]);
    assert.equal((await postJson(`${victim.url}/api/publish`, resolved("dora", 9))).status, 200);
    await victim.kill("SIGKILL");
    await smtp.until(1, 20_000);
    await settle(survivors, () => unseenTotals(survivors).delivered >= 1);
    assert.equal(mailsTo(smtp, "dora"), 1);
    assert.deepEqual(unseenTotals(survivors), { seen: 0, delivered: 1 }, "one of the two nodes left claimed it, once");
  });
});

const WEBHOOK_SECRET = "whsec_unseen_0123456789abcdef";

function webhookConfig(receiver: WebhookReceiver): HeraldConfigInput {
  return {
    routes: ROUTES,
    namespaces: { bets: { receipts: true } },
    sinks: { webhooks: { endpoints: [{ url: receiver.url, secret: WEBHOOK_SECRET, on: { channel: "bets:*", types: ["bet_resolved"] }, unseen: "1s" }] } },
  };
}

const postedFor = (receiver: WebhookReceiver): string[] => receiver.hits.map((hit) => `${hit.body.event.channel}#${hit.body.event.offset}`).sort();

for (const engine of ["memory", "redis"] as const) {
  const where = engine === "memory" ? "memory engine" : "two nodes on the Redis engine, acknowledged on the node that did not publish";
  describe(`unseen webhook endpoints (${where})`, { skip: engine === "redis" ? await redisSkip() : false }, () => {
    const prefix = uniquePrefix("unseen-webhooks");
    let receiver: WebhookReceiver;
    const nodes: RunningHerald[] = [];
    before(async () => {
      receiver = await startReceiver(() => 204);
      const nodeConfig: HeraldConfigInput = engine === "memory" ? webhookConfig(receiver) : { ...webhookConfig(receiver), engine: { type: "redis", redisUrl: REDIS_URL, prefix } };
      nodes.push(await startHerald(nodeConfig));
      if (engine === "redis") nodes.push(await startHerald(nodeConfig));
    });
    after(async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await receiver.close();
      if (engine === "redis") await deleteKeys(prefix);
    });

    it("POSTs only the events a user did not acknowledge within the window, once each", async () => {
      const publisher = nodes[0]!;
      const reader = nodes[nodes.length - 1]!;
      const watching = await TestClient.open(`${reader.wsUrl}/ws/bet-updates/alice`);
      const stuck = await TestClient.open(`${reader.wsUrl}/ws/bet-updates/carol`);
      try {
        await watching.next("subscribed");
        await stuck.next("subscribed");
        // alice acknowledges her first resolution only: the second stays unseen.
        assert.equal((await postJson(`${publisher.url}/api/publish`, resolved("alice", 1))).status, 200);
        watching.send({ type: "ack", channel: "bets:alice", offset: (await watching.next("bet_resolved")).offset });
        assert.equal((await postJson(`${publisher.url}/api/publish`, resolved("alice", 2))).status, 200);
        await watching.next("bet_resolved");
        for (const user of ["bob", "carol"]) assert.equal((await postJson(`${publisher.url}/api/publish`, resolved(user, 3))).status, 200);
        await stuck.next("bet_resolved");

        await waitUntil("the unseen deadlines to be settled", async () => {
          for (const node of nodes) await node.herald.integrations.unseen!.sweep();
          return unseenTotals(nodes).seen + unseenTotals(nodes).delivered === 4;
        }, 20_000);
        for (const node of nodes) await deadline(node.herald.integrations.webhooks!.idle(), "the webhooks queue to drain");
        assert.deepEqual(unseenTotals(nodes), { seen: 1, delivered: 3 });
        assert.deepEqual(postedFor(receiver), ["bets:alice#2", "bets:bob#1", "bets:carol#1"], "alice's acknowledged resolution was not posted; her unacknowledged one, bob's (no connection) and carol's (never acknowledged) were, once each");
        const alice = receiver.hits.find((hit) => hit.body.event.channel === "bets:alice")!;
        assert.equal(alice.body.kind, "event");
        assert.deepEqual(alice.body.event.data, { bet_id: 2, email: "alice@example.test", result: "won" });
      } finally {
        await watching.close();
        await stuck.close();
      }
    });
  });
}
