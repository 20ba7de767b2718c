/**
 * The vault-balances example as one server: Herald with the seed's route (herald.yaml), the vault
 * REST API beside it, and the React dashboard page, all on one port.
 */

import { fileURLToPath } from "node:url";
import { Herald } from "@herald/server";
import { buildPage } from "../../shared/build-page.js";
import { servePage } from "../../shared/serve-page.js";
import { registerVaultApi } from "./vault-api.js";

export interface VaultExample {
  herald: Herald;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export interface VaultExampleOptions {
  port?: number;
  host?: string;
  /** A page already built with buildPage (tests build it once); built now when absent. */
  pageDir?: string;
  /** Read HERALD_* and the seed's variables from this environment (the start command passes process.env). */
  env?: Record<string, string | undefined>;
  logLevel?: "info" | "warn" | "silent";
}

export async function startVaultExample(options: VaultExampleOptions = {}): Promise<VaultExample> {
  const herald = new Herald({
    configFile: fileURLToPath(new URL("../herald.yaml", import.meta.url)),
    env: options.env ?? {},
    config: options.logLevel ? { logLevel: options.logLevel } : {},
  });
  registerVaultApi(herald.http, herald);
  servePage(herald.http, options.pageDir ?? (await buildPage(fileURLToPath(new URL("../web", import.meta.url)))));
  await herald.listen({ port: options.port, host: options.host });
  const host = options.host ?? herald.config.host;
  const url = `http://${host === "0.0.0.0" ? "localhost" : host}:${herald.port}`;
  return { herald, url, close: () => herald.close() };
}
