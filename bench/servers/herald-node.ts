/**
 * One Herald node of a multi-node benchmark server (servers/herald-redis.ts starts one per node):
 * `createHerald` with the bench configuration and the engine given as JSON in argv[2], on a free
 * port. It reports to the process that forked it exactly as a server reports to the runner.
 */

import { createHerald } from "@herald/server";
import { collect, reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const engine = JSON.parse(process.argv[2] ?? "") as Record<string, unknown>;
const herald = await createHerald({ config: { ...BENCH_CONFIG, engine } });
await herald.listen({ port: 0, host: "127.0.0.1" });

reportToRunner(herald.port, () => herald.close(), collect);
