/** Test support: the real PostgreSQL from DATABASE_URL, fresh uniquely named tables, and a skip note when it is absent. */

import { randomBytes } from "node:crypto";
import pg from "pg";

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Resolves to undefined when Postgres answers, or to the skip reason; throws under CI, which must never skip. */
export async function postgresMissing(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    const reason = `skipped: no PostgreSQL at ${DATABASE_URL} (${(error as Error).message})`;
    if (process.env.CI === "true") throw new Error(reason);
    console.log(reason);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A name no other test (or concurrent run) uses: prefix + random hex. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  return client;
}
