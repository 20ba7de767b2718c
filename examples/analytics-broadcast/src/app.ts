/**
 * The analytics-broadcast example as one server: Herald with the seed's `/ws?token=` route
 * (herald.yaml, token from WS_AUTH_TOKEN), the analytics REST API, and the dashboard page.
 */

import { fileURLToPath } from "node:url";
import { Herald } from "@herald/server";
import { buildPage } from "../../shared/build-page.js";
import { servePage } from "../../shared/serve-page.js";
import { registerAnalyticsApi } from "./analytics-api.js";

export interface AnalyticsExample {
  herald: Herald;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export interface AnalyticsExampleOptions {
  /** The shared connection token (the seed's WS_AUTH_TOKEN), at least 16 characters. */
  token: string;
  port?: number;
  host?: string;
  /** A page already built with buildPage (tests build it once); built now when absent. */
  pageDir?: string;
  /** Read HERALD_* and the seed's variables from this environment (the start command passes process.env). */
  env?: Record<string, string | undefined>;
  logLevel?: "info" | "warn" | "silent";
}

export async function startAnalyticsExample(options: AnalyticsExampleOptions): Promise<AnalyticsExample> {
  const herald = new Herald({
    configFile: fileURLToPath(new URL("../herald.yaml", import.meta.url)),
    env: options.env ?? {},
    config: { auth: { token: options.token }, ...(options.logLevel ? { logLevel: options.logLevel } : {}) },
  });
  registerAnalyticsApi(herald.http, herald);
  servePage(herald.http, options.pageDir ?? (await buildPage(fileURLToPath(new URL("../web", import.meta.url)))));
  await herald.listen({ port: options.port, host: options.host });
  const host = options.host ?? herald.config.host;
  const url = `http://${host === "0.0.0.0" ? "localhost" : host}:${herald.port}`;
  return { herald, url, close: () => herald.close() };
}
