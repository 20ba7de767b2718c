/** `npm run example:bridge-status`: the pages and API on PORT (8000), Herald on HERALD_PORT (8001). */

import { startBridgeStatus } from "./app.js";

const bridge = await startBridgeStatus({
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  tablePrefix: process.env.BRIDGE_TABLE_PREFIX ?? "",
  port: Number(process.env.PORT ?? 8000),
  heraldPort: Number(process.env.HERALD_PORT ?? 8001),
  host: process.env.HOST ?? "127.0.0.1",
  logLevel: "warn",
});
console.log(`bridge pages:  ${bridge.url}/cas_to_poly.html  ${bridge.url}/poly_to_cas.html  (on @herald/client: ${bridge.url}/sdk/)`);
console.log(`herald:        ${bridge.heraldUrl}  (tables ${bridge.tables.casDeposits}, ${bridge.tables.returnIntentions}, ${bridge.tables.polygonTransactions})`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void bridge.close().then(() => process.exit(0)));
