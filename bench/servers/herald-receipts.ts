/**
 * Herald with receipts on (docs/delivery.md) for the fan-out's channel: its subscribers are told
 * so and acknowledge, as the client SDK does (at most one `ack` per channel per half second), and
 * the hub keeps each one's highest acknowledged offset. Read against `herald`, receipts off.
 */

import { createHerald } from "@herald/server";
import { reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

// The fan-out's channel, `fanout`, has no colon: it is in the namespace named "".
const herald = await createHerald({ config: { ...BENCH_CONFIG, namespaces: { "": { receipts: true } } } });
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close());
