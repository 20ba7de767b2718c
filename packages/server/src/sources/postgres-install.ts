/**
 * Installing and removing the Postgres capture triggers, and reading their status.
 *
 * What an install creates (all idempotent, safe to repeat at every start):
 *  - the outbox table (`herald_outbox` by default): one row per captured change, with the
 *    expanded channel, the event type and a jsonb payload `{op, table, schema, row, old?}`;
 *    `published_at` is set once Herald has published the row, `error` when it could not be;
 *  - one plpgsql function `herald_capture()` shared by every trigger; its trigger arguments carry
 *    the channel template, the event type, the kept columns, the outbox name and the tag columns;
 *  - per table, an AFTER ROW trigger `herald_<type>` calling it for the chosen operations.
 *
 * The trigger writes the change and sends `NOTIFY <outbox>` with an empty payload: NOTIFY is only a
 * wake-up, so rows of any size work (NOTIFY payloads stop at 8000 bytes) and a NOTIFY lost while
 * Herald is away costs nothing, because Herald catches up from the table. Postgres folds identical
 * notifications of one transaction into one, so a 10 000-row UPDATE sends a single wake-up.
 *
 * Channel templates (`user:{polygon_address}`) are expanded in the trigger from the full row (the
 * new row, or the old one for deletes), before columns are trimmed, so the channel may use a
 * column that the event does not carry. An UPDATE that changes none of the kept columns is skipped.
 * Needs PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER, pg_current_xact_id).
 */

import type pg from "pg";
import type { PgTableConfig } from "../config/integrations-schema.js";

type Queryable = Pick<pg.ClientBase, "query">;

/** Quotes `name` or `schema.name` as SQL identifiers. */
export function quoteTable(table: string): string {
  return table.split(".").map(quoteIdent).join(".");
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The trigger's name for an event type: `herald_` and the type, with anything unusual as `_`. */
export function triggerName(type: string): string {
  return `herald_${type.replace(/[^A-Za-z0-9_]/g, "_")}`.slice(0, 63);
}

// One lock key for installs, so that several nodes starting at once do not race on CREATE OR REPLACE.
const INSTALL_LOCK = "hashtext('herald_install')";

export function outboxDdl(outbox: string): string {
  const table = quoteIdent(outbox);
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  id bigserial PRIMARY KEY,
  channel text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  error text,
  traceparent text
);
-- Outboxes made before the column existed get it: an app may write a row's trace context there.
ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS traceparent text;
-- The event's tags (string values), from the trigger's tag columns or written by the app.
ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS tags jsonb;
CREATE INDEX IF NOT EXISTS ${quoteIdent(`${outbox}_pending`)} ON ${table} (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS ${quoteIdent(`${outbox}_published`)} ON ${table} (published_at) WHERE published_at IS NOT NULL;

CREATE OR REPLACE FUNCTION herald_capture() RETURNS trigger LANGUAGE plpgsql AS $herald$
DECLARE
  channel_template text := TG_ARGV[0];
  event_type text := TG_ARGV[1];
  kept text[] := CASE WHEN TG_ARGV[2] = '' THEN NULL ELSE string_to_array(TG_ARGV[2], ',') END;
  outbox text := TG_ARGV[3];
  -- Absent from triggers installed before tags existed: an argument past tg_nargs reads as NULL.
  tag_columns text[] := CASE WHEN COALESCE(TG_ARGV[4], '') = '' THEN NULL ELSE string_to_array(TG_ARGV[4], ',') END;
  tags jsonb;
  new_row jsonb;
  old_row jsonb;
  full_row jsonb;
  channel text;
  placeholder text;
  payload jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
  full_row := COALESCE(new_row, old_row);
  channel := channel_template;
  FOR placeholder IN SELECT DISTINCT (regexp_matches(channel_template, '\\{([A-Za-z_][A-Za-z0-9_]*)\\}', 'g'))[1] LOOP
    channel := replace(channel, '{' || placeholder || '}', COALESCE(full_row ->> placeholder, ''));
  END LOOP;
  IF kept IS NOT NULL THEN
    IF new_row IS NOT NULL THEN
      new_row := COALESCE((SELECT jsonb_object_agg(key, value) FROM jsonb_each(new_row) WHERE key = ANY (kept)), '{}'::jsonb);
    END IF;
    IF old_row IS NOT NULL THEN
      old_row := COALESCE((SELECT jsonb_object_agg(key, value) FROM jsonb_each(old_row) WHERE key = ANY (kept)), '{}'::jsonb);
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' AND new_row = old_row THEN
    RETURN NULL;
  END IF;
  payload := jsonb_build_object('op', lower(TG_OP), 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'row', COALESCE(new_row, old_row));
  IF TG_OP = 'UPDATE' THEN
    payload := payload || jsonb_build_object('old', old_row);
  END IF;
  IF tag_columns IS NULL THEN
    -- Without tags the row names no tags column, so an outbox made before it existed keeps working.
    EXECUTE format('INSERT INTO %I (channel, type, payload) VALUES ($1, $2, $3)', outbox) USING channel, event_type, payload;
  ELSE
    tags := (SELECT jsonb_object_agg(name, full_row ->> name) FROM unnest(tag_columns) AS name WHERE full_row ->> name IS NOT NULL);
    EXECUTE format('INSERT INTO %I (channel, type, payload, tags) VALUES ($1, $2, $3, $4)', outbox) USING channel, event_type, payload, tags;
  END IF;
  PERFORM pg_notify(outbox, '');
  RETURN NULL;
END
$herald$;`;
}

/** Creates the outbox and its capture function (if missing), under the install lock. */
export async function installOutbox(client: Queryable, outbox: string): Promise<void> {
  await underInstallLock(client, () => client.query(outboxDdl(outbox)));
}

/** Creates the outbox (if missing) and creates or replaces the table's trigger for `install.type`. */
export async function installTrigger(client: Queryable, outbox: string, install: PgTableConfig): Promise<void> {
  const operations = [...new Set(install.on)].map((op) => op.toUpperCase()).join(" OR ");
  const args = [install.channel, install.type, (install.columns ?? []).join(","), outbox, (install.tags ?? []).join(",")].map(literal).join(", ");
  await underInstallLock(client, async () => {
    await client.query(outboxDdl(outbox));
    if (install.columns || install.tags) await checkColumns(client, install);
    await client.query(
      `CREATE OR REPLACE TRIGGER ${quoteIdent(triggerName(install.type))} AFTER ${operations} ON ${quoteTable(install.table)} ` +
        `FOR EACH ROW EXECUTE FUNCTION herald_capture(${args})`,
    );
  });
}

// Two nodes (or two workers) running CREATE OR REPLACE FUNCTION at once fail with "tuple concurrently updated".
async function underInstallLock(client: Queryable, install: () => Promise<unknown>): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${INSTALL_LOCK})`);
    await install();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

async function checkColumns(client: Queryable, install: PgTableConfig): Promise<void> {
  const result = await client.query<{ attname: string }>(
    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
    [quoteTable(install.table)],
  );
  const present = new Set(result.rows.map((row) => row.attname));
  const unknown = [...(install.columns ?? []), ...(install.tags ?? [])].filter((column) => !present.has(column));
  if (unknown.length > 0) throw new Error(`table ${install.table} has no column ${unknown.map((c) => `"${c}"`).join(", ")}`);
}

/** Drops Herald's triggers on a table (all of them, or only the one for `type`); returns their names. */
export async function uninstallTriggers(client: Queryable, table: string, type?: string): Promise<string[]> {
  const installed = await listTriggers(client, table);
  const names = installed.map((trigger) => trigger.trigger).filter((name) => type === undefined || name === triggerName(type));
  for (const name of names) await client.query(`DROP TRIGGER IF EXISTS ${quoteIdent(name)} ON ${quoteTable(table)}`);
  return names;
}

export interface InstalledTrigger {
  readonly table: string;
  readonly trigger: string;
  readonly channel: string;
  readonly type: string;
  readonly columns: string[] | undefined;
  readonly outbox: string;
  readonly tags: string[] | undefined;
  readonly on: string[];
  readonly enabled: boolean;
}

/** Every trigger that calls herald_capture(), optionally only on one table. */
export async function listTriggers(client: Queryable, table?: string): Promise<InstalledTrigger[]> {
  const result = await client.query<{ table: string; trigger: string; args: Buffer; nargs: number; type: number; enabled: string }>(
    `SELECT t.tgrelid::regclass::text AS table, t.tgname AS trigger, t.tgargs AS args, t.tgnargs AS nargs, t.tgtype AS type, t.tgenabled AS enabled
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE p.proname = 'herald_capture' AND NOT t.tgisinternal ${table === undefined ? "" : "AND t.tgrelid = $1::regclass"}
      ORDER BY 1, 2`,
    table === undefined ? [] : [quoteTable(table)],
  );
  return result.rows.map((row) => {
    // tgargs holds the arguments as NUL-terminated strings.
    const args = row.args.toString("utf8").split("\0").slice(0, row.nargs);
    // tgtype bits (pg_trigger.h): 4 INSERT, 8 DELETE, 16 UPDATE.
    const on = [row.type & 4 ? "insert" : "", row.type & 16 ? "update" : "", row.type & 8 ? "delete" : ""].filter(Boolean);
    return {
      table: row.table,
      trigger: row.trigger,
      channel: args[0] ?? "",
      type: args[1] ?? "",
      columns: args[2] ? args[2].split(",") : undefined,
      outbox: args[3] ?? "",
      tags: args[4] ? args[4].split(",") : undefined,
      on,
      enabled: row.enabled !== "D",
    };
  });
}

export interface OutboxBacklog {
  readonly pending: number;
  readonly failed: number;
  readonly oldestPending: string | null;
}

/** How many rows wait to be published, and since when; null when the outbox does not exist yet. */
export async function outboxBacklog(client: Queryable, outbox: string): Promise<OutboxBacklog | null> {
  const exists = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdent(outbox)]);
  if (!exists.rows[0]?.present) return null;
  const result = await client.query<{ pending: string; failed: string; oldest: Date | null }>(
    `SELECT count(*) FILTER (WHERE published_at IS NULL) AS pending, count(*) FILTER (WHERE error IS NOT NULL) AS failed,
            min(created_at) FILTER (WHERE published_at IS NULL) AS oldest FROM ${quoteIdent(outbox)}`,
  );
  const row = result.rows[0]!;
  return { pending: Number(row.pending), failed: Number(row.failed), oldestPending: row.oldest ? row.oldest.toISOString() : null };
}
