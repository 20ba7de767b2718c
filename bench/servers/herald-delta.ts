/**
 * Herald for the delta scenario (runner/delta.ts): `wallet:` channels send deltas to subscribers
 * that ask for them, `plain:` channels (the same events, delta off) never do.
 */

import { createHerald } from "@herald/server";
import { reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const herald = await createHerald({ config: { ...BENCH_CONFIG, namespaces: { wallet: { delta: true } } } });
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close());
