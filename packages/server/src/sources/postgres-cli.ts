/**
 * `herald pg …`: install, remove and inspect the Postgres capture triggers from the command line.
 *
 *   herald pg install --table cas_deposits --channel 'user:{polygon_address}' --type cas_deposit_update [--columns a,b] [--tags a,b] [--on insert,update]
 *   herald pg uninstall --table cas_deposits [--type cas_deposit_update]
 *   herald pg status
 *
 * The database is `--url`, else HERALD_DATABASE_URL / DATABASE_URL, else `sources.postgres.url`
 * of the config file (`--config` or HERALD_CONFIG).
 */

import { parseArgs } from "node:util";
import pg from "pg";
import { loadConfig } from "../config/load.js";
import { pgTableSchema } from "../config/integrations-schema.js";
import { installTrigger, listTriggers, outboxBacklog, uninstallTriggers } from "./postgres-install.js";

export const PG_USAGE = `Usage: herald pg install --table T --channel TEMPLATE --type TYPE [--columns a,b] [--tags a,b] [--on insert,update,delete]
       herald pg uninstall --table T [--type TYPE]
       herald pg status

Captures a table's changes into Herald's outbox with a trigger; Herald publishes each change.
  --table     the table, name or schema.name
  --channel   channel template; {column} takes the row's value, e.g. 'user:{polygon_address}'
  --type      event type of each change, e.g. cas_deposit_update
  --columns   columns carried in the event (default: every column)
  --tags      columns whose values tag each event, for subscribers' tag filters (e.g. symbol,side)
  --on        operations captured (default: insert,update,delete)
  --url       postgres:// URL (default: HERALD_DATABASE_URL, DATABASE_URL, or sources.postgres.url in --config)
  --config    a JSON or YAML config file`;

type Write = (text: string) => void;

export async function runPgCommand(argv: string[], out: Write, err: Write): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        table: { type: "string" },
        channel: { type: "string" },
        type: { type: "string" },
        columns: { type: "string" },
        tags: { type: "string" },
        on: { type: "string" },
        url: { type: "string" },
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    err(`herald pg: ${(error as Error).message}\n\n${PG_USAGE}\n`);
    return 2;
  }
  const [action, ...stray] = parsed.positionals;
  const values = parsed.values;
  if (values.help || action === undefined) {
    (values.help ? out : err)(`${PG_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  // A usage line pasted with its brackets (`[--type T]`) reads as positionals: ignoring them would
  // install every column, or uninstall every trigger of the table, where the user asked for fewer.
  if (stray.length > 0) {
    err(`herald pg ${action}: unexpected argument "${stray[0]}"${strayHint(stray[0]!)}\n\n${PG_USAGE}\n`);
    return 2;
  }
  const config = loadConfig({ file: values.config ?? process.env.HERALD_CONFIG, env: process.env });
  const url = values.url ?? config.sources.postgres.url;
  if (!url) {
    err("herald pg: no database; pass --url or set DATABASE_URL\n");
    return 2;
  }
  const outbox = config.sources.postgres.outbox;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    err(`herald pg: cannot connect to the database: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    if (action === "install") {
      const install = pgTableSchema.safeParse({
        table: values.table,
        channel: values.channel,
        type: values.type,
        columns: values.columns?.split(",").map((c) => c.trim()).filter(Boolean),
        tags: values.tags?.split(",").map((c) => c.trim()).filter(Boolean),
        on: values.on?.split(",").map((o) => o.trim().toLowerCase()).filter(Boolean),
      });
      if (!install.success) {
        const issue = install.error.issues[0]!;
        err(`herald pg install: --${issue.path.join(".") || "table"}: ${issue.message}\n\n${PG_USAGE}\n`);
        return 2;
      }
      await installTrigger(client, outbox, install.data);
      out(`installed: ${install.data.table} ${install.data.on.join(",")} → ${install.data.channel} (${install.data.type}), outbox ${outbox}\n`);
      return 0;
    }
    if (action === "uninstall") {
      if (!values.table) {
        err(`herald pg uninstall: --table is required\n\n${PG_USAGE}\n`);
        return 2;
      }
      const removed = await uninstallTriggers(client, values.table, values.type);
      out(removed.length > 0 ? `removed from ${values.table}: ${removed.join(", ")}\n` : `no Herald trigger on ${values.table}${values.type ? ` for ${values.type}` : ""}\n`);
      return 0;
    }
    if (action === "status") {
      const triggers = await listTriggers(client);
      const backlog = await outboxBacklog(client, outbox);
      out(`outbox ${outbox}: ${backlog ? `${backlog.pending} pending${backlog.oldestPending ? ` (oldest ${backlog.oldestPending})` : ""}, ${backlog.failed} refused` : "not created yet"}\n`);
      if (triggers.length === 0) out("no triggers installed\n");
      for (const t of triggers) {
        out(`${t.table}  ${t.trigger}  ${t.on.join(",")} → ${t.channel} (${t.type})${t.columns ? ` columns ${t.columns.join(",")}` : ""}${t.tags ? ` tags ${t.tags.join(",")}` : ""}${t.enabled ? "" : " [disabled]"}\n`);
      }
      return 0;
    }
    err(`herald pg: unknown action "${action}"\n\n${PG_USAGE}\n`);
    return 2;
  } catch (error) {
    err(`herald pg ${action}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why a stray argument is likely there, when it can be told. */
export function strayHint(argument: string): string {
  return argument.startsWith("[") || argument.endsWith("]") ? " (brackets in a usage line mark optional parts: leave the brackets out)" : "";
}
