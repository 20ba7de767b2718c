/**
 * Faults in the middle of draining the Postgres outbox, against the real database: Herald killed
 * with SIGKILL, its database connections dropped and let back in (a TCP proxy), and its backends
 * terminated by the server (pg_terminate_backend, what a PostgreSQL restart does to them; the
 * shared PostgreSQL itself is never restarted, other test runs use it).
 *
 * What a consumer sees: every row's event, in commit order. Delivery is at least once (see
 * postgres-outbox.ts): a batch published but not yet marked when the fault hit is published
 * again, so consumers drop a repeated `outboxId`; after that, each row arrives exactly once.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { TestClient, startHerald } from "../support/herald.js";
import { DATABASE_URL, connect, postgresMissing, uniqueName } from "../support/postgres.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { startNodeProcess, type NodeProcess } from "../support/node-process.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { waitUntil } from "../support/deadline.js";

const skip = (await postgresMissing()) ?? (await redisSkip());
const BATCH = 50;

describe("Postgres outbox under faults", { skip }, () => {
  let db: pg.Client;
  const dropped: string[] = [];

  before(async () => {
    db = await connect();
  });
  after(async () => {
    for (const table of dropped) await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.end();
  });

  /** A fresh table with a capture trigger config, its outbox, and the channel its rows go to. */
  async function fixture(url = DATABASE_URL) {
    const table = uniqueName("herald_fault");
    const outbox = uniqueName("herald_fault_outbox");
    const owner = uniqueName("o");
    dropped.push(table, outbox);
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, owner text NOT NULL, n int NOT NULL)`);
    const source = { url, outbox, batchSize: BATCH, pollInterval: "200ms", tables: [{ table, channel: "fault:{owner}", type: "row", columns: ["id", "n"], on: ["insert" as const] }] };
    return { table, outbox, owner, channel: `fault:${owner}`, source };
  }

  /** Outbox ids in commit order: each test's writer commits one transaction at a time, so id order. */
  async function outboxIds(outbox: string): Promise<number[]> {
    return (await db.query(`SELECT id FROM ${outbox} ORDER BY id`)).rows.map((row) => Number(row.id));
  }

  /** The outboxIds a subscriber received, in arrival order, repeats included. */
  const received = (client: TestClient): number[] => client.frames.filter((f) => f.type === "row").map((f) => (f.data as { outboxId: number }).outboxId);

  /** Asserts every row arrived in commit order, and that only a fault's in-flight batches came twice. */
  async function assertEveryRowOnceInOrder(client: TestClient, outbox: string, faults: number): Promise<void> {
    const ids = await outboxIds(outbox);
    await waitUntil(`all ${ids.length} rows' events`, () => new Set(received(client)).size >= ids.length, 60_000, () => `${new Set(received(client)).size} distinct outboxIds`);
    // A batch published just before a fault is marked by the drain after it (and published again).
    const unmarked = async () => (await db.query(`SELECT count(*)::int AS n FROM ${outbox} WHERE published_at IS NULL`)).rows[0].n as number;
    await waitUntil("every outbox row to be marked published", async () => (await unmarked()) === 0, 30_000);
    const arrived = received(client);
    const firstArrivals = arrived.filter((id, i) => arrived.indexOf(id) === i);
    assert.deepEqual(firstArrivals, ids, "each row's first arrival is in commit order, none missing");
    const repeats = arrived.length - firstArrivals.length;
    assert.ok(repeats <= faults * BATCH, `only the batches in flight at the ${faults} fault(s) may repeat; ${repeats} repeats`);
    const refused = (await db.query(`SELECT count(*)::int AS n FROM ${outbox} WHERE error IS NOT NULL`)).rows[0].n;
    assert.equal(refused, 0, "no row is marked with an error");
  }

  it("Herald SIGKILLed while draining: a new Herald publishes the rest, every row in commit order", { timeout: 180_000 }, async () => {
    const prefix = uniquePrefix("outbox-kill");
    const { table, outbox, owner, channel, source } = await fixture();
    const dir = mkdtempSync(join(tmpdir(), "herald-outbox-kill-"));
    const configFile = join(dir, "herald.json");
    writeFileSync(configFile, JSON.stringify({ engine: { type: "redis", redisUrl: REDIS_URL, prefix }, sources: { postgres: source } }));
    // The observer shares the Redis engine with the draining nodes, so it sees every publish of both.
    const observer = await startHerald({ engine: { type: "redis", redisUrl: REDIS_URL, prefix } });
    const client = await TestClient.open(`${observer.wsUrl}/ws`);
    let node: NodeProcess | undefined;
    try {
      await client.subscribe(channel);
      // The first node installs the trigger; then 3 000 rows land in one go, committed in id order.
      node = await startNodeProcess("drainer-1", { HERALD_CONFIG: configFile });
      await db.query(`INSERT INTO ${table} SELECT g, $1, g FROM generate_series(1, 3000) g`, [owner]);
      await waitUntil("the first 300 events", () => received(client).length >= 300, 30_000);
      await node.kill("SIGKILL");
      const marked = (await db.query(`SELECT count(*)::int AS n FROM ${outbox} WHERE published_at IS NOT NULL`)).rows[0].n;
      assert.ok(marked < 3000, `the kill came in the middle of draining (${marked} of 3000 rows were marked)`);

      node = await startNodeProcess("drainer-2", { HERALD_CONFIG: configFile });
      await assertEveryRowOnceInOrder(client, outbox, 1);
    } finally {
      await node?.kill("SIGKILL");
      await client.close();
      await observer.close();
      await deleteKeys(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Inserts rows 1..count one transaction at a time, calling `fault` once row `at` is committed. */
  async function writeRows(table: string, owner: string, count: number, at: number, fault: () => Promise<void>): Promise<void> {
    for (let n = 1; n <= count; n++) {
      await db.query(`INSERT INTO ${table} VALUES ($1, $2, $1)`, [n, owner]);
      if (n === at) await fault();
    }
  }

  it("the database connection dropped and restored (TCP proxy): every row in commit order", async () => {
    const target = new URL(DATABASE_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(DATABASE_URL);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const { table, outbox, owner, channel, source } = await fixture(viaProxy.toString());
    const hub = await startHerald({ sources: { postgres: source } });
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe(channel);
      await writeRows(table, owner, 400, 150, async () => {
        await waitUntil("events to flow before the cut", () => received(client).length >= 50, 20_000);
        proxy.cut();
        // Rows keep committing while Herald is cut off; they wait in the outbox.
        await waitUntil("Herald to notice the cut", () => hub.herald.integrations.postgres!.status().state === "reconnecting", 20_000);
      });
      proxy.restore();
      await assertEveryRowOnceInOrder(client, outbox, 1);
      await waitUntil("Herald to listen again", () => hub.herald.integrations.postgres!.status().state === "listening", 20_000);
    } finally {
      await client.close();
      await hub.close();
      await proxy.close();
    }
  });

  it("its backends terminated by the server (as a PostgreSQL restart does): every row in commit order", async () => {
    const application = uniqueName("herald_fault_app");
    const url = new URL(DATABASE_URL);
    url.searchParams.set("application_name", application);
    const { table, outbox, owner, channel, source } = await fixture(url.toString());
    const hub = await startHerald({ sources: { postgres: source } });
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    const terminate = async (): Promise<number> =>
      (await db.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`, [application])).rows[0].n;
    try {
      await client.subscribe(channel);
      await writeRows(table, owner, 400, 150, async () => {
        await waitUntil("events to flow before the termination", () => received(client).length >= 50, 20_000);
        assert.ok((await terminate()) >= 1, "Herald's backends were found and terminated");
      });
      // Terminated once more while it catches up, as a restart mid-recovery would.
      await waitUntil("Herald to listen again", () => hub.herald.integrations.postgres!.status().state === "listening", 20_000);
      await terminate();
      await assertEveryRowOnceInOrder(client, outbox, 2);
      await waitUntil("Herald to listen again after the second termination", () => hub.herald.integrations.postgres!.status().state === "listening", 20_000);
    } finally {
      await client.close();
      await hub.close();
    }
  });
});
