/**
 * `npm run example:analytics-broadcast`: starts the example on PORT (default 8080, the seed's) and HOST
 * (default 127.0.0.1).
 * The connection token is WS_AUTH_TOKEN, as in the seed; without one a random token is made and
 * printed, so the example never runs open.
 */

import { randomBytes } from "node:crypto";
import { startAnalyticsExample } from "./app.js";

const token = process.env.WS_AUTH_TOKEN || randomBytes(18).toString("base64url");
const example = await startAnalyticsExample({ token, host: process.env.HOST ?? "127.0.0.1", env: process.env });
const wsUrl = example.url.replace("http", "ws");
console.log(`analytics dashboard: ${example.url}/?token=${token}`);
console.log(`seed client:         npx wscat -c '${wsUrl}/ws?token=${token}'`);
console.log(`trigger an update:   curl -X POST ${example.url}/api/anchors -H 'Content-Type: application/json' -d '{"name": "Test Anchor", "stellar_account": "GABC"}'`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void example.close().then(() => process.exit(0)));
}
