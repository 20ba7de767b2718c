/**
 * Email and webhook deliveries on the Redis engine wait in Redis (BullMQ): they survive a crashed
 * node, are taken by whichever node is alive, are made once each, and those that used their tries
 * are dead letters that can be retried. Every test runs Redis of its own (support/redis-server.ts),
 * a real SMTP server (smtp-server) and a real HTTP receiver; the crash is a SIGKILL of a node
 * started through the CLI. The same crash on the memory engine with `sinks.queue.store: postgres`
 * (BullMQ's PostgreSQL backend) runs against the real PostgreSQL, and two nodes share their
 * deliveries on a Redis Cluster of the test's own.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HeraldConfigInput } from "@herald/server";
import { getJson, postJson, startHerald, type RunningHerald } from "../support/herald.js";
import { startNodeProcess, type NodeProcess } from "../support/node-process.js";
import { RedisServer, freePort, redisServerSkip } from "../support/redis-server.js";
import { messageId, startSmtp, type SmtpSink } from "../support/smtp-server.js";
import { startReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { waitUntil } from "../support/deadline.js";
import { DATABASE_URL, connect, postgresMissing, uniqueName } from "../support/postgres.js";
import { RedisCluster, redisClusterSkip } from "../support/redis-cluster.js";

const SECRET = "whsec_0123456789abcdef";
const ADMIN_TOKEN = "durable-admin-token-0123456789";
const EVENTS = 100;

/** Both sinks on `bets:*`: a signed POST to the receiver and an email to the bettor. */
function sinks(receiverUrl: string, smtpPort: number, tries: { attempts: number; retryDelay: number }): HeraldConfigInput["sinks"] {
  return {
    queue: { lockDuration: "2s" },
    email: {
      smtp: { host: "127.0.0.1", port: smtpPort },
      from: { email: "noreply@betthat.test" },
      rules: [{ on: { channel: "bets:*", types: ["bet_resolved"] }, to: "{data.email}", subject: "Bet {data.n} settled", text: "Bet {data.n}: {data.result}" }],
      ...tries,
    },
    webhooks: { endpoints: [{ url: receiverUrl, secret: SECRET, on: { channel: "bets:*" }, ...tries }] },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function assertEachOnce(ids: Array<string | undefined>, expected: number, what: string): void {
  assert.equal(ids.length, expected, `${expected} ${what} arrived (${ids.length})`);
  assert.ok(ids.every((id) => typeof id === "string" && id.length > 0), `every ${what} carries its delivery id`);
  assert.equal(new Set(ids).size, expected, `each ${what} delivery id arrived once`);
}

interface Crash {
  /** The node started after the crash. */
  second: NodeProcess;
  receiver: WebhookReceiver;
  smtp: SmtpSink;
}

/**
 * The crash scenario: with both receivers down, `count` events (`bets:…`, one email address each)
 * are published to a node, which is then SIGKILLed; another node starts, the receivers come back
 * on their ports, and every delivery arrives (plus a second for a repeat to show). Nodes and
 * receivers are pushed to `started` for the caller's clean-up.
 */
async function crashThenRecover(
  name: string,
  env: (hookPort: number, smtpPort: number) => Record<string, string>,
  count: number,
  started: { nodes: NodeProcess[]; closers: Array<() => Promise<void>> },
): Promise<Crash> {
  const hookPort = await freePort();
  const smtpPort = await freePort();
  const nodeEnv = env(hookPort, smtpPort);
  const first = await startNodeProcess(`${name}-first`, nodeEnv);
  started.nodes.push(first);
  for (let n = 1; n <= count; n++) {
    const answer = await postJson(`${first.url}/api/publish`, { channel: `bets:user${n % 7}`, type: "bet_resolved", data: { n, result: "win", email: `bettor${n}@example.test` } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  // Nothing could be delivered: both receivers are down. The crash takes the node's memory with it.
  await first.kill("SIGKILL");
  const second = await startNodeProcess(`${name}-second`, nodeEnv);
  started.nodes.push(second);
  const receiver = await startReceiver(() => 204, hookPort);
  started.closers.push(() => receiver.close());
  const smtp = await startSmtp(smtpPort);
  started.closers.push(() => smtp.close());
  await receiver.until(count, 60_000);
  await smtp.until(count, 60_000);
  // A repeat would come right after; give it the time to show.
  await sleep(1_000);
  assertEachOnce(receiver.hits.map((hit) => hit.headers["herald-delivery"] as string), count, "webhook");
  assert.ok(receiver.hits.every((hit) => hit.headers["herald-delivery"] === hit.body.id), "the header and the body carry the same id");
  assert.ok(receiver.hits.every((hit) => hit.body.node === `${name}-first`), "each event is reported as published by the node that published it");
  assertEachOnce(smtp.messages.map((message) => messageId(message.raw)), count, "email");
  assert.deepEqual(smtp.messages.map((message) => message.to[0]).sort(), Array.from({ length: count }, (_, i) => `bettor${i + 1}@example.test`).sort());
  return { second, receiver, smtp };
}

async function cleanUp(started: { nodes: NodeProcess[]; closers: Array<() => Promise<void>> }): Promise<void> {
  for (const node of started.nodes) await node.kill("SIGKILL");
  for (const close of started.closers) await close();
}

describe("durable deliveries on the Redis engine", { skip: redisServerSkip() }, () => {
  let redis: RedisServer;
  let dir: string;
  before(async () => {
    redis = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), "herald-durable-"));
  });
  after(async () => {
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const nodeEnv = (name: string, config: HeraldConfigInput, prefix: string): Record<string, string> => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    return { HERALD_ENGINE: "redis", HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix, HERALD_CONFIG: file, HERALD_ADMIN_TOKEN: ADMIN_TOKEN };
  };

  it("receivers down while 100 events are published, the node SIGKILLed, another node started, receivers back: every webhook and email arrives once", async () => {
    const started = { nodes: [] as NodeProcess[], closers: [] as Array<() => Promise<void>> };
    try {
      const env = (hookPort: number, smtpPort: number) => nodeEnv("crash", { sinks: sinks(`http://127.0.0.1:${hookPort}/hook`, smtpPort, { attempts: 20, retryDelay: 100 }) }, "crash:");
      const { second, receiver } = await crashThenRecover("durable", env, EVENTS, started);
      assert.deepEqual(receiver.hits.map((hit) => hit.body.event.data.n), Array.from({ length: EVENTS }, (_, i) => i + 1), "webhooks reach the endpoint in publish order");
      const status = (await getJson(`${second.url}/api/status`, { authorization: `Bearer ${ADMIN_TOKEN}` })).body.integrations;
      assert.equal(status.webhooks.store, "redis");
      assert.equal(status.webhooks.endpoints[0].delivered, EVENTS, "the second node made every webhook delivery");
      assert.equal(status.webhooks.endpoints[0].queued, 0);
      assert.equal(status.email.sent, EVENTS);
      assert.equal(status.email.queued, 0);
    } finally {
      await cleanUp(started);
    }
  });

  it("SIGTERM finishes the delivery in flight within shutdownTimeout and leaves the rest to the next node", async () => {
    let release: (() => void) | undefined;
    const firstArrived = new Promise<void>((resolve) => (release = resolve));
    // The receiver is slow: each answer takes 1.5 s, so the node is stopped mid-delivery.
    const receiver = await startReceiver(async () => {
      release?.();
      await sleep(1_500);
      return 204;
    });
    const smtp = await startSmtp();
    const env = nodeEnv("sigterm", { shutdownTimeout: "5s", sinks: { ...sinks(receiver.url, smtp.port, { attempts: 5, retryDelay: 100 }), email: { rules: [] } } }, "sigterm:");
    const nodes: NodeProcess[] = [];
    try {
      const first = await startNodeProcess("sigterm-first", env);
      nodes.push(first);
      for (let n = 1; n <= 5; n++) assert.equal((await postJson(`${first.url}/api/publish`, { channel: "bets:1", type: "bet_resolved", data: { n } })).status, 200);
      await firstArrived;
      const stopping = Date.now();
      await first.kill("SIGTERM");
      assert.ok(Date.now() - stopping < 5_000, "the node stopped within shutdownTimeout");
      assert.equal(receiver.hits.length, 1, "the stopping node took no new delivery after the one in flight");
      assert.equal(first.child.exitCode, 0, first.output());

      const second = await startNodeProcess("sigterm-second", env);
      nodes.push(second);
      await receiver.until(5, 30_000);
      await sleep(1_000);
      assertEachOnce(receiver.hits.map((hit) => hit.headers["herald-delivery"] as string), 5, "webhook");
      assert.deepEqual(receiver.hits.map((hit) => hit.body.event.data.n), [1, 2, 3, 4, 5]);
      assert.deepEqual(receiver.hits.map((hit) => hit.headers["herald-attempt"]), ["1", "1", "1", "1", "1"], "the delivery in flight was finished, not tried again");
    } finally {
      for (const node of nodes) await node.kill("SIGKILL");
      await receiver.close();
      await smtp.close();
    }
  });

  it("a publish whose deliveries cannot be queued answers engine_timeout; its retry with the same Idempotency-Key queues them once", async () => {
    // A Redis of this test's own, for the queue alone (the memory engine keeps the events), so that stopping it fails only the queueing.
    const queueRedis = await RedisServer.start();
    const receiver = await startReceiver(() => 204);
    const hub = await startHerald({
      engine: { type: "memory", redisUrl: queueRedis.url },
      sinks: { queue: { store: "redis" }, webhooks: { endpoints: [{ url: receiver.url, secret: SECRET, on: { channel: "orders:*" } }] } },
    });
    try {
      assert.equal((await postJson(`${hub.url}/api/publish`, { channel: "orders:1", type: "filled", data: { n: 1 } })).status, 200);
      await receiver.until(1);
      await queueRedis.stop();
      const publish = () => postJson(`${hub.url}/api/publish`, { channel: "orders:1", type: "filled", data: { n: 2 } }, { "idempotency-key": "order-2" });
      const refused = await publish();
      assert.equal(refused.status, 504, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "engine_timeout");
      assert.match(refused.body.error.message, /Idempotency-Key/);
      await queueRedis.restart();
      let retried: Awaited<ReturnType<typeof publish>> | undefined;
      await waitUntil("the retry to be answered once the queue's Redis is back", async () => (retried = await publish()).status === 200, 20_000, () => JSON.stringify(retried?.body));
      assert.equal(retried!.body.published[0].offset, 2, "the retry stored nothing new: it is the first attempt's event");
      await receiver.until(2);
      await sleep(500);
      assert.deepEqual(receiver.hits.map((hit) => hit.body.event.data.n), [1, 2], "the event's webhook was queued by the retry, once");
    } finally {
      await hub.close();
      await receiver.close();
      await queueRedis.close();
    }
  });

  describe("with two nodes alive", () => {
    let receiver: WebhookReceiver;
    let smtp: SmtpSink;
    let failing = true;
    let hubs: RunningHerald[] = [];
    before(async () => {
      receiver = await startReceiver(() => (failing ? 500 : 204));
      smtp = await startSmtp();
    });
    after(async () => {
      for (const hub of hubs) await hub.close();
      await receiver.close();
      await smtp.close();
    });

    const start = async (prefix: string, config: HeraldConfigInput) => {
      const started = await Promise.all(
        ["one", "two"].map((name) => startHerald({ node: `${prefix}${name}`, engine: { type: "redis", redisUrl: redis.url, prefix: `${prefix}:` }, security: { adminToken: ADMIN_TOKEN }, ...config })),
      );
      hubs.push(...started);
      return started;
    };
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

    it("each delivery is made by one of them, not both, whichever published it", async () => {
      failing = false;
      const [one, two] = await start("pair", { sinks: sinks(receiver.url, smtp.port, { attempts: 5, retryDelay: 50 }) });
      const before = { hits: receiver.hits.length, mails: smtp.messages.length };
      await Promise.all(
        Array.from({ length: EVENTS }, (_, i) =>
          postJson(`${one!.url}/api/publish`, { channel: `bets:pair${i % 5}`, type: "bet_resolved", data: { n: i + 1, result: "lose", email: `pair${i + 1}@example.test` } }),
        ),
      );
      await receiver.until(before.hits + EVENTS, 30_000);
      await smtp.until(before.mails + EVENTS, 30_000);
      await sleep(1_000);
      assertEachOnce(receiver.hits.slice(before.hits).map((hit) => hit.headers["herald-delivery"] as string), EVENTS, "webhook");
      assertEachOnce(smtp.messages.slice(before.mails).map((message) => messageId(message.raw)), EVENTS, "email");
      const statuses = await Promise.all([one!, two!].map(async (hub) => (await getJson(`${hub.url}/api/status`, admin)).body.integrations));
      assert.equal(statuses[0].webhooks.endpoints[0].delivered + statuses[1].webhooks.endpoints[0].delivered, EVENTS, "the nodes' deliveries add up to one per event");
      assert.equal(statuses[0].email.sent + statuses[1].email.sent, EVENTS);
      // Every event was published on the first node; the second took its share from the shared queue.
      assert.ok(statuses[1].email.sent > 0, `the second node sent emails of events published on the first (${statuses[0].email.sent} and ${statuses[1].email.sent})`);
      for (const hub of hubs.splice(0)) await hub.close();
    });

    it("dead letters after the configured tries show in /api/status on every node, and a retry delivers them", async () => {
      failing = true;
      const down = await freePort();
      const [one, two] = await start("dead", { sinks: sinks(receiver.url, down, { attempts: 2, retryDelay: 20 }) });
      const before = receiver.hits.length;
      await postJson(`${one!.url}/api/publish`, { channel: "bets:dead", type: "bet_resolved", data: { n: 1, result: "void", email: "dead@example.test" } });
      const deadLetters = async (hub: RunningHerald) => (await getJson(`${hub.url}/api/status`, admin)).body.integrations;
      await waitUntil("a webhook and an email dead letter", async () => {
        const status = await deadLetters(two!);
        return status.webhooks.deadLetters.length === 1 && status.email.deadLetters.length === 1;
      });
      const status = await deadLetters(two!);
      const [hook] = status.webhooks.deadLetters;
      assert.deepEqual({ url: hook.url, kind: hook.kind, channel: hook.channel, attempts: hook.attempts, error: hook.error }, { url: receiver.url, kind: "event", channel: "bets:dead", attempts: 2, error: "HTTP 500" });
      assert.equal(receiver.hits.length - before, 2, "two tries, then given up");
      const [mail] = status.email.deadLetters;
      assert.deepEqual({ channel: mail.channel, type: mail.type, subject: mail.subject, attempts: mail.attempts }, { channel: "bets:dead", type: "bet_resolved", subject: "Bet 1 settled", attempts: 2 });
      assert.match(mail.error, /ECONNREFUSED|connect/i);

      assert.equal((await postJson(`${two!.url}/api/admin/dead-letters/retry`, {})).status, 401, "retrying takes the admin token");
      failing = false;
      const back = await startSmtp(down);
      try {
        const webhookRetry = await postJson(`${two!.url}/api/admin/dead-letters/retry`, { sink: "webhooks", url: hook.url, id: hook.id }, admin);
        assert.deepEqual(webhookRetry, { status: 200, body: { retried: 1 } });
        await receiver.until(before + 3);
        assert.equal(receiver.hits.at(-1)!.headers["herald-delivery"], hook.id, "the retry carries the same delivery id");
        assert.equal(receiver.hits.at(-1)!.headers["herald-attempt"], "1", "with fresh tries");
        assert.deepEqual(await postJson(`${one!.url}/api/admin/dead-letters/retry`, { sink: "email" }, admin), { status: 200, body: { retried: 1 } });
        const delivered = await back.next();
        assert.deepEqual(delivered.to, ["dead@example.test"]);
        await waitUntil("no dead letters left", async () => {
          const after = await deadLetters(one!);
          return after.webhooks.deadLetters.length === 0 && after.email.deadLetters.length === 0 && after.email.queued === 0;
        });
      } finally {
        await back.close();
      }
    });
  });
});

describe("durable deliveries in PostgreSQL (sinks.queue.store: postgres)", async () => {
  const missing = await postgresMissing();
  const schema = uniqueName("herald_sinks_t");
  const outbox = uniqueName("herald_outbox_t");
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "herald-durable-pg-"));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (missing) return;
    const db = await connect();
    try {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.query(`DROP TABLE IF EXISTS ${outbox}`);
    } finally {
      await db.end();
    }
  });

  it("receivers down while events are published on the memory engine, the node SIGKILLed, another node started, receivers back: every webhook and email arrives once", { skip: missing }, async () => {
    const started = { nodes: [] as NodeProcess[], closers: [] as Array<() => Promise<void>> };
    try {
      const env = (hookPort: number, smtpPort: number) => {
        const config: HeraldConfigInput = {
          sources: { postgres: { outbox } },
          sinks: { ...sinks(`http://127.0.0.1:${hookPort}/hook`, smtpPort, { attempts: 20, retryDelay: 100 }), queue: { store: "postgres", schema, lockDuration: "2s" } },
        };
        const file = join(dir, "pg.json");
        writeFileSync(file, JSON.stringify(config));
        return { HERALD_DATABASE_URL: DATABASE_URL, HERALD_CONFIG: file, HERALD_ADMIN_TOKEN: ADMIN_TOKEN };
      };
      const { second } = await crashThenRecover("pg", env, 30, started);
      const status = (await getJson(`${second.url}/api/status`, { authorization: `Bearer ${ADMIN_TOKEN}` })).body.integrations;
      assert.equal(status.webhooks.store, "postgres");
      assert.equal(status.email.queued, 0);
    } finally {
      await cleanUp(started);
    }
  });
});

describe("durable deliveries on a Redis Cluster", { skip: redisClusterSkip() }, () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(async () => {
    await cluster?.close();
  });

  it("two nodes take the deliveries from the cluster: every webhook (in order) and email arrives once", async () => {
    const count = 30;
    const receiver = await startReceiver(() => 204);
    const smtp = await startSmtp();
    const hubs: RunningHerald[] = [];
    try {
      for (const name of ["cluster-one", "cluster-two"]) {
        hubs.push(await startHerald({ node: name, engine: { type: "redis", redisCluster: cluster.seeds }, security: { adminToken: ADMIN_TOKEN }, sinks: sinks(receiver.url, smtp.port, { attempts: 5, retryDelay: 50 }) }));
      }
      for (let n = 1; n <= count; n++) {
        const answer = await postJson(`${hubs[0]!.url}/api/publish`, { channel: `bets:c${n % 4}`, type: "bet_resolved", data: { n, result: "win", email: `c${n}@example.test` } });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      }
      await receiver.until(count, 30_000);
      await smtp.until(count, 30_000);
      await sleep(1_000);
      assertEachOnce(receiver.hits.map((hit) => hit.headers["herald-delivery"] as string), count, "webhook");
      assert.deepEqual(receiver.hits.map((hit) => hit.body.event.data.n), Array.from({ length: count }, (_, i) => i + 1), "in publish order");
      assertEachOnce(smtp.messages.map((message) => messageId(message.raw)), count, "email");
      const statuses = await Promise.all(hubs.map(async (hub) => (await getJson(`${hub.url}/api/status`, { authorization: `Bearer ${ADMIN_TOKEN}` })).body.integrations));
      assert.equal(statuses[0].email.sent + statuses[1].email.sent, count);
      assert.equal(statuses[1].webhooks.store, "redis");
    } finally {
      for (const hub of hubs) await hub.close();
      await receiver.close();
      await smtp.close();
    }
  });
});
