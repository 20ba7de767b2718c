/**
 * Herald for the bridge: the seed's routes (herald.yaml) plus the Postgres source that turns
 * every row change of the three tables into an event on `user:{polygon_address}`.
 */

import { fileURLToPath } from "node:url";
import { createHerald, type Herald } from "@herald/server";
import type { BridgeTables } from "./database.js";

export const HERALD_CONFIG = fileURLToPath(new URL("../herald.yaml", import.meta.url));

export interface HeraldSettings {
  databaseUrl: string;
  tables: BridgeTables;
  port: number;
  host: string;
  logLevel?: "info" | "warn" | "error" | "silent";
}

export async function startBridgeHerald(settings: HeraldSettings): Promise<Herald> {
  const { tables } = settings;
  const herald = await createHerald({
    configFile: HERALD_CONFIG,
    config: {
      logLevel: settings.logLevel ?? "info",
      sources: {
        postgres: {
          url: settings.databaseUrl,
          outbox: tables.outbox,
          // The outbox is drained on NOTIFY; this poll is only the safety net.
          pollInterval: "5s",
          tables: [
            { table: tables.casDeposits, channel: "user:{polygon_address}", type: "cas_deposit_update", on: ["insert", "update"] },
            { table: tables.returnIntentions, channel: "user:{polygon_address}", type: "wcas_return_intention_update", on: ["insert", "update"] },
            { table: tables.polygonTransactions, channel: "user:{polygon_address}", type: "polygon_transaction_update", on: ["insert", "update"] },
          ],
        },
      },
    },
  });
  await herald.listen({ port: settings.port, host: settings.host });
  return herald;
}
