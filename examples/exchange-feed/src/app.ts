/**
 * The exchange-feed example as one server: Herald with the seed's monitor route and the lazy
 * Socket.IO bridge (herald.yaml), the seed's status endpoint, and the monitor page.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Herald, type HeraldConfigInput } from "@herald/server";
import { parse } from "yaml";
import { buildPage } from "../../shared/build-page.js";
import { servePage } from "../../shared/serve-page.js";

export interface ExchangeFeedExample {
  herald: Herald;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export interface ExchangeFeedOptions {
  /** Where the upstream feed listens (the fake exchange's URL). */
  upstreamUrl: string;
  port?: number;
  host?: string;
  /** A page already built with buildPage (tests build it once); built now when absent. */
  pageDir?: string;
  env?: Record<string, string | undefined>;
  logLevel?: "info" | "warn" | "silent";
}

interface BridgeStatus {
  name: string;
  state: "idle" | "connecting" | "connected" | "reconnecting" | "stopped";
}

export async function startExchangeFeedExample(options: ExchangeFeedOptions): Promise<ExchangeFeedExample> {
  const config = parse(readFileSync(new URL("../herald.yaml", import.meta.url), "utf8")) as HeraldConfigInput & { bridges: Array<{ url: string }> };
  for (const bridge of config.bridges) bridge.url = options.upstreamUrl;
  if (options.logLevel) config.logLevel = options.logLevel;
  const herald = new Herald({ config, env: options.env ?? {} });

  // The seed's GET /api/v1/ws/status, from what Herald's /api/status reports: the monitors on
  // coindcx:events, and whether the bridge to the upstream is connected right now.
  herald.http.get("/api/v1/ws/status", async () => {
    const bridges = ((await herald.integrations.status()) as { bridges: BridgeStatus[] }).bridges;
    return {
      active_connections: herald.hub.channelList().find((entry) => entry.channel === "coindcx:events")?.subscribers ?? 0,
      coindcx_connected: bridges.find((bridge) => bridge.name === "coindcx")?.state === "connected",
    };
  });
  servePage(herald.http, options.pageDir ?? (await buildPage(fileURLToPath(new URL("../web", import.meta.url)))));
  await herald.listen({ port: options.port, host: options.host });
  const host = options.host ?? herald.config.host;
  const url = `http://${host === "0.0.0.0" ? "localhost" : host}:${herald.port}`;
  return { herald, url, close: () => herald.close() };
}
