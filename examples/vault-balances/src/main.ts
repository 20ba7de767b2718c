/** `npm run example:vault-balances`: starts the example on PORT (default 8080, the seed's port) and HOST (default 127.0.0.1). */

import { startVaultExample } from "./app.js";

const example = await startVaultExample({ host: process.env.HOST ?? "127.0.0.1", env: process.env });
const owner = "HjxQC5jmM8JQrKmVLz29fvaVU428BQ3NzM7a3uQECt9m";
console.log(`vault dashboard: ${example.url}/?owner=${owner}  (open it in two tabs)`);
console.log(`seed client:     ${example.url.replace("http", "ws")}/ws/${owner}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void example.close().then(() => process.exit(0)));
}
