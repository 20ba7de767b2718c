/**
 * `npm run example:exchange-feed`: starts the fake exchange (EXCHANGE_PORT, default 8090; a
 * position and balance update every TICK_MS, default 5000) and the example on PORT (default 8000,
 * the seed's backend port), both on HOST (default 127.0.0.1).
 */

import { startExchangeFeedExample } from "./app.js";
import { startFakeExchange } from "./fake-exchange.js";

const host = process.env.HOST ?? "127.0.0.1";
const exchange = await startFakeExchange({ port: Number(process.env.EXCHANGE_PORT ?? 8090), host, interval: Number(process.env.TICK_MS ?? 5000) });
const example = await startExchangeFeedExample({ upstreamUrl: exchange.url, port: Number(process.env.PORT ?? 8000), host, env: process.env });
console.log(`monitor:        ${example.url}/`);
console.log(`status:         curl ${example.url}/api/v1/ws/status`);
console.log(`place an order: curl -X POST ${exchange.url}/orders -H 'content-type: application/json' -d '{"pair":"B-ETH_USDT","side":"buy","price":3500}'`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void Promise.all([example.close(), exchange.close()]).then(() => process.exit(0)));
}
