import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { TestClient, getJson, postJson, startHerald, type Frame, type RunningHerald } from "../support/herald.js";
import { DATABASE_URL, connect, postgresMissing, uniqueName } from "../support/postgres.js";
import { runPgCommand } from "../../src/sources/postgres-cli.js";
import { waitUntil } from "../support/deadline.js";

const skip = await postgresMissing();

describe("Postgres source", { skip }, () => {
  let db: pg.Client;
  const tables: string[] = [];
  const outboxes: string[] = [];

  before(async () => {
    db = await connect();
  });
  after(async () => {
    for (const table of tables) await db.query(`DROP TABLE IF EXISTS ${table}`);
    for (const outbox of outboxes) await db.query(`DROP TABLE IF EXISTS ${outbox}`);
    await db.end();
  });

  /** A fresh table and outbox, and a Herald config that installs a trigger on it. */
  async function freshTable(columns = "id int PRIMARY KEY, owner text NOT NULL, status text, note text") {
    const table = uniqueName("herald_t");
    const outbox = uniqueName("herald_outbox_t");
    tables.push(table);
    outboxes.push(outbox);
    await db.query(`CREATE TABLE ${table} (${columns})`);
    const config = {
      history: { size: 1000 },
      sources: {
        postgres: {
          url: DATABASE_URL,
          outbox,
          tables: [{ table, channel: "user:{owner}", type: "deposit_update", columns: ["id", "status", "note"] }],
        },
      },
    };
    return { table, outbox, config };
  }

  async function backlog(outbox: string): Promise<number> {
    const result = await db.query(`SELECT count(*)::int AS n FROM ${outbox} WHERE published_at IS NULL`);
    return result.rows[0].n as number;
  }

  it("publishes row changes made with plain SQL in another connection, in commit order", async () => {
    const { table, config } = await freshTable();
    const hub = await startHerald(config);
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe("user:alice");
      // Same row, three transactions: the row lock orders them, and so must the events.
      await db.query(`INSERT INTO ${table} VALUES (1, 'alice', 'pending')`);
      await db.query(`UPDATE ${table} SET status = 'pending_confirmation' WHERE id = 1`);
      await db.query(`UPDATE ${table} SET status = 'completed' WHERE id = 1`);
      const events = await client.take(3, "deposit_update");
      assert.deepEqual(events.map((e) => (e.data as any).op), ["insert", "update", "update"]);
      assert.deepEqual(events.map((e) => (e.data as any).row.status), ["pending", "pending_confirmation", "completed"]);
      assert.deepEqual((events[2]!.data as any).old, { id: 1, status: "pending_confirmation", note: null });
      // The channel came from `owner`, which the event does not carry (columns trimmed).
      assert.equal((events[0]!.data as any).row.owner, undefined);
      assert.equal(events[0]!.channel, "user:alice");

      // Two overlapping transactions: A takes the lower outbox id but commits last.
      await db.query(`INSERT INTO ${table} VALUES (2, 'alice', 'a0'), (3, 'alice', 'b0')`);
      await client.take(2, "deposit_update");
      const a = await connect();
      const b = await connect();
      try {
        await a.query("BEGIN");
        await a.query(`UPDATE ${table} SET status = 'A' WHERE id = 2`);
        await b.query("BEGIN");
        await b.query(`UPDATE ${table} SET status = 'B' WHERE id = 3`);
        await b.query("COMMIT");
        // B is committed, A is not: B arrives on its own; A's lower id does not hold it back or get lost.
        const first = await client.next("deposit_update");
        assert.equal((first.data as any).row.status, "B");
        await a.query("COMMIT");
        const second = await client.next("deposit_update");
        assert.equal((second.data as any).row.status, "A");
        assert.ok((second.data as any).outboxId < (first.data as any).outboxId, "A had the lower outbox id yet came after B, as committed");
      } finally {
        await a.end();
        await b.end();
      }
      // A delete carries the old row.
      await db.query(`DELETE FROM ${table} WHERE id = 3`);
      const deleted = await client.next("deposit_update");
      assert.deepEqual((deleted.data as any).row, { id: 3, status: "B", note: null });
      assert.equal((deleted.data as any).op, "delete");
    } finally {
      await client.close();
      await hub.close();
    }
  });

  it("catches up after a stop: 500 rows changed while Herald was down arrive once each", async () => {
    const { table, outbox, config } = await freshTable();
    let hub: RunningHerald = await startHerald(config);
    await hub.close();
    await db.query(`INSERT INTO ${table} SELECT g, 'bob', 'new' FROM generate_series(1, 500) g`);
    assert.equal(await backlog(outbox), 500);

    hub = await startHerald(config);
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      // The catch-up may publish before we subscribe: learn the epoch, then recover from offset 0.
      const first = await client.subscribe("user:bob");
      client.send({ type: "unsubscribe", channel: "user:bob" });
      await client.next("unsubscribed");
      const recovered = await client.subscribe("user:bob", { since: { epoch: first.epoch, offset: 0 } });
      assert.equal(recovered.recovered, true);
      const events: Frame[] = await client.take(500, "deposit_update", 30_000);
      const ids = events.map((e) => (e.data as any).row.id as number);
      assert.equal(new Set(ids).size, 500);
      assert.deepEqual(ids, [...ids].sort((x, y) => x - y), "inserted in one transaction, published in insert order");
      // Nothing more is pending and nothing is sent twice: the next frame is a marker published after.
      const status = await getJson(`${hub.url}/api/status`, hub.adminHeaders);
      assert.equal(status.body.integrations.postgres.state, "listening");
      assert.equal(await backlog(outbox), 0);
      await postJson(`${hub.url}/api/publish`, { channel: "user:bob", type: "marker", data: null });
      const next = await client.next((frame) => frame.channel === "user:bob");
      assert.equal(next.type, "marker");
    } finally {
      await client.close();
      await hub.close();
    }
  });

  it("carries a 20 KB row, beyond NOTIFY's 8000-byte payload limit", async () => {
    const { table, config } = await freshTable();
    const hub = await startHerald(config);
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe("user:carol");
      const note = "x".repeat(20 * 1024);
      await db.query(`INSERT INTO ${table} VALUES (1, 'carol', 'big', $1)`, [note]);
      const event = await client.next("deposit_update");
      assert.equal((event.data as any).row.note, note);
    } finally {
      await client.close();
      await hub.close();
    }
  });

  it("starts several nodes at once on one database: each installs the outbox without racing the others", async () => {
    // Workers and rolling deploys start nodes together; CREATE OR REPLACE FUNCTION run concurrently fails with
    // "tuple concurrently updated" unless the installs take turns.
    const outbox = uniqueName("herald_outbox_t");
    outboxes.push(outbox);
    const config = { sources: { postgres: { url: DATABASE_URL, outbox } } };
    const started = await Promise.allSettled(Array.from({ length: 6 }, () => startHerald(config)));
    const hubs = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    try {
      const failures = started.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
      assert.deepEqual(failures, []);
      assert.equal(await backlog(outbox), 0);
    } finally {
      await Promise.all(hubs.map((hub) => hub.close()));
    }
  });

  it("tags each event with the trigger's tag columns, so a subscriber's filter picks rows; an app's own outbox rows carry tags too", async () => {
    const { table, outbox, config } = await freshTable("id int PRIMARY KEY, owner text NOT NULL, symbol text, status text");
    config.sources.postgres.tables[0] = { ...config.sources.postgres.tables[0]!, columns: ["id", "status"], tags: ["symbol", "status"] } as never;
    const hub = await startHerald(config);
    const btc = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      assert.equal((await btc.subscribe("user:alice", { filter: "symbol=BTC" })).type, "subscribed");
      await db.query(`INSERT INTO ${table} VALUES (1, 'alice', 'ETH', 'open'), (2, 'alice', 'BTC', 'open'), (3, 'alice', NULL, 'open')`);
      await db.query(`UPDATE ${table} SET status = 'filled' WHERE id = 2`);
      // Written by the app itself, as an outbox may be: its tags are published as they are, and bad ones refused.
      await db.query(`INSERT INTO ${outbox} (channel, type, payload, tags) VALUES ('user:alice', 'note', '{"n":1}', '{"symbol":5}'), ('user:alice', 'note', '{"n":2}', '{"symbol":"BTC"}')`);
      const events = await btc.take(3, (frame) => frame.type === "deposit_update" || frame.type === "note");
      assert.deepEqual(
        events.map((event) => [event.type, event.tags]),
        [["deposit_update", { symbol: "BTC", status: "open" }], ["deposit_update", { symbol: "BTC", status: "filled" }], ["note", { symbol: "BTC" }]],
      );
      assert.deepEqual(events[1]!.data && (events[1]!.data as any).row, { id: 2, status: "filled" }, "a tag column need not be a carried column");
      // The batch's transaction marks the refused row when it commits, after the events went out.
      const refusal = async (): Promise<string | null> => (await db.query(`SELECT error FROM ${outbox} WHERE payload->>'n' = '1'`)).rows[0].error;
      await waitUntil("the row with bad tags to be marked", async () => (await refusal()) !== null);
      assert.match((await refusal())!, /^invalid_tags: tags\.symbol must be a string/);
      // The ETH and untagged rows were published too: their positions went by (the BTC subscriber only never saw them).
      const history = await hub.herald.hub.history("user:alice", {});
      assert.deepEqual(history.events.map((event) => event.tags?.symbol ?? null), ["ETH", "BTC", null, "BTC", "BTC"]);
    } finally {
      await btc.close();
      await hub.close();
    }
  });

  it("herald pg install, status and uninstall manage the triggers", async () => {
    const table = uniqueName("herald_t");
    tables.push(table);
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, polygon_address text)`);
    const out: string[] = [];
    const err: string[] = [];
    const run = (...args: string[]) => runPgCommand([...args, "--url", DATABASE_URL], (t) => out.push(t), (t) => err.push(t));
    assert.equal(await run("install", "--table", table, "--channel", "user:{polygon_address}", "--type", "cas_deposit_update", "--on", "insert,update"), 0, err.join(""));
    assert.equal(await run("status"), 0);
    const line = out.join("").split("\n").find((l) => l.startsWith(table));
    assert.ok(line, out.join(""));
    assert.match(line, /herald_cas_deposit_update\s+insert,update → user:\{polygon_address\} \(cas_deposit_update\)/);
    assert.equal(await run("install", "--table", table, "--channel", "user:{polygon_address}", "--type", "tagged_update", "--tags", "polygon_address"), 0, err.join(""));
    assert.equal(await run("status"), 0);
    assert.ok(out.join("").split("\n").some((l) => l.startsWith(table) && /herald_tagged_update .* tags polygon_address$/.test(l)), out.join(""));
    assert.equal(await run("install", "--table", table, "--channel", "x", "--type", "t", "--tags", "nope"), 1);
    assert.match(err.join(""), /has no column "nope"/);
    assert.equal(await run("install", "--table", table, "--channel", "x", "--type", "t", "--columns", "nope"), 1);
    assert.match(err.join(""), /has no column "nope"/);
    assert.equal(await run("uninstall", "--table", table), 0);
    assert.match(out.at(-1)!, /removed from .*herald_cas_deposit_update/);
    assert.equal(await run("install", "--table", table, "--type", "t"), 2);
    assert.match(err.at(-1)!, /--channel/);
    // A usage line pasted with its brackets is refused, not read as "every column" or "every trigger".
    assert.equal(await run("install", "--table", table, "--channel", "user:{polygon_address}", "--type", "t", "[--columns", "id]"), 2);
    assert.match(err.at(-1)!, /unexpected argument "\[--columns" \(brackets in a usage line mark optional parts/);
    const seen = out.length;
    assert.equal(await run("status"), 0);
    assert.ok(!out.slice(seen).join("").split("\n").some((l) => l.startsWith(table)), "nothing was installed");
  });
});
