/** Herald as benchmarked: memory engine, silent logs, history deep enough for the reconnect storm. */

import { createHerald } from "@herald/server";
import { reportToRunner } from "./child.js";

const herald = await createHerald({
  config: {
    logLevel: "silent",
    // Heartbeats would add frames the load generator has to sort out; none of the scenarios lasts that long.
    pingInterval: "10m",
    idleTimeout: "10m",
    // The reconnect storm resumes from up to a few thousand events back.
    history: { size: 10_000, ttl: "10m" },
  },
});
await herald.listen({ port: 0, host: "127.0.0.1" });
reportToRunner(herald.port, () => herald.close());
