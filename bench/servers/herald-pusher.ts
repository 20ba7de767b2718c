/**
 * Herald as benchmarked through its Pusher endpoint: the same settings as servers/herald.ts, plus
 * one Pusher app. Its clients speak the Pusher protocol at /app/bench-key; events are published
 * with Herald's /api/publish to the Herald channel of Pusher channel `fanout` (pusher-bench:fanout).
 */

import { createHerald } from "@herald/server";
import { reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const herald = await createHerald({
  config: { ...BENCH_CONFIG, pusher: { activityTimeout: "10m", apps: [{ id: "bench", key: "bench-key", secret: "bench-secret-0123456789" }] } },
});
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close());
