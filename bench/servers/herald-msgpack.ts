/**
 * Herald as `herald` runs it, for subscribers that speak MessagePack (`?format=msgpack`): the
 * fan-out's bytes and server CPU per delivery, read against `herald`, whose subscribers speak JSON.
 */

import { createHerald } from "@herald/server";
import { collectWithBytesSent, reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const herald = await createHerald({ config: BENCH_CONFIG });
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close(), () => collectWithBytesSent(herald.port));
