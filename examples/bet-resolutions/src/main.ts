/** `npm run example:bet-resolutions`: builds the page, then serves it, the API and Herald on PORT (8000). */

import { startBetResolutions } from "./app.js";

const app = await startBetResolutions({ port: Number(process.env.PORT ?? 8000), host: process.env.HOST ?? "127.0.0.1", env: process.env, logLevel: "warn" });
console.log(`bets page: ${app.url}/?user_id=user456`);
console.log(`resolve:   curl -X POST ${app.url}/api/v1/bets/123/resolve -H 'content-type: application/json' -d '{"result":"win","resolution_notes":"Game completed"}'`);
console.log(`poll:      curl "${app.url}/api/v1/bets/updates?user_id=user456"`);
const when = process.env.EMAIL_WHEN === "unseen" ? `, only if the page has not shown it within ${process.env.EMAIL_UNSEEN_AFTER || "30s"}` : "";
console.log(`email:     ${process.env.SMTP_SERVER ? `through ${process.env.SMTP_SERVER}:${process.env.SMTP_PORT ?? 587}${when}` : "off (set SMTP_SERVER, SMTP_PORT, FROM_EMAIL)"}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
