/**
 * The bridge's three tables, as the seed's backend had them. A table prefix keeps several
 * copies (tests, demos) apart in one database; the Herald outbox takes the same prefix.
 */

import pg from "pg";

export interface BridgeTables {
  casDeposits: string;
  returnIntentions: string;
  polygonTransactions: string;
  outbox: string;
}

export function tableNames(prefix: string): BridgeTables {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix) && prefix !== "") throw new Error(`BRIDGE_TABLE_PREFIX "${prefix}" must be lower-case letters, digits and _`);
  return {
    casDeposits: `${prefix}cas_deposits`,
    returnIntentions: `${prefix}wcas_return_intentions`,
    polygonTransactions: `${prefix}polygon_transactions`,
    outbox: `${prefix}herald_outbox`,
  };
}

export async function createTables(pool: pg.Pool, tables: BridgeTables): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${tables.casDeposits} (
      id              serial PRIMARY KEY,
      polygon_address text NOT NULL,
      deposit_address text NOT NULL,
      amount          numeric NOT NULL,
      amount_received numeric,
      status          text NOT NULL DEFAULT 'pending',
      mint_tx_hash    text,
      created_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ${tables.returnIntentions} (
      id              serial PRIMARY KEY,
      polygon_address text NOT NULL,
      cas_address     text NOT NULL,
      amount          numeric NOT NULL,
      status          text NOT NULL DEFAULT 'pending_deposit',
      cas_tx_hash     text,
      created_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ${tables.polygonTransactions} (
      id              serial PRIMARY KEY,
      polygon_address text NOT NULL,
      tx_hash         text NOT NULL,
      amount          numeric,
      status          text NOT NULL DEFAULT 'pending',
      cas_tx_hash     text,
      created_at      timestamptz NOT NULL DEFAULT now()
    );`);
}

/** Drops the tables and the outbox (tests clean up after themselves). */
export async function dropTables(pool: pg.Pool, tables: BridgeTables): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${tables.casDeposits}, ${tables.returnIntentions}, ${tables.polygonTransactions}, ${tables.outbox}`);
}
