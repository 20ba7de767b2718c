/** Herald as benchmarked: one process, memory engine, silent logs, history deep enough for the reconnect storm. */

import { createHerald } from "@herald/server";
import { collectWithBytesSent, reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const herald = await createHerald({ config: BENCH_CONFIG });
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close(), () => collectWithBytesSent(herald.port));
