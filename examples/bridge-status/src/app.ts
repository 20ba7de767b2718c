/**
 * The bridge example: a tiny REST API over the three tables, the two pages, and Herald beside it.
 * The API only writes rows; it never notifies anyone. Herald's Postgres source sees each change
 * through the outbox trigger and pushes it to `user:{polygon_address}`, so a bare SQL UPDATE
 * reaches the page exactly like one made by the bridge's watcher.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Herald } from "@herald/server";
import { buildPage } from "../../shared/build-page.js";
import { sendPageFile } from "../../shared/serve-page.js";
import { createTables, tableNames, type BridgeTables } from "./database.js";
import { startBridgeHerald } from "./herald-process.js";

// The seed's pages are plain HTML and JavaScript modules, served as they are (no build).
const WEB_DIR = fileURLToPath(new URL("../web", import.meta.url));
// The same page on @herald/client (web/sdk), built when first asked for and served under /sdk/.
const SDK_DIR = fileURLToPath(new URL("../web/sdk", import.meta.url));
const SDK_BASE = "/sdk/";
const POLYGON_ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export interface BridgeOptions {
  databaseUrl: string;
  /** Prefix of the table names (and of Herald's outbox), so copies of the example can share a database. */
  tablePrefix?: string;
  /** Port of the pages and the REST API (0: any free port). */
  port?: number;
  /** Port of Herald (0: any free port). */
  heraldPort?: number;
  host?: string;
  logLevel?: "info" | "warn" | "error" | "silent";
}

export interface RunningBridge {
  /** http://host:port of the pages and the API. */
  url: string;
  /** http://host:port of Herald. */
  heraldUrl: string;
  tables: BridgeTables;
  pool: pg.Pool;
  /** Stops Herald alone (the pages stay up), as when its process dies. */
  stopHerald(): Promise<void>;
  /** Starts Herald again on the same port. */
  startHerald(): Promise<void>;
  close(): Promise<void>;
}

export async function startBridgeStatus(options: BridgeOptions): Promise<RunningBridge> {
  const host = options.host ?? "127.0.0.1";
  const tables = tableNames(options.tablePrefix ?? "");
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
  await createTables(pool, tables);

  const heraldSettings = { databaseUrl: options.databaseUrl, tables, host, port: options.heraldPort ?? 0, logLevel: options.logLevel };
  let herald: Herald | undefined = await startBridgeHerald(heraldSettings);
  // A restart must come back on the same port, where the pages reconnect.
  heraldSettings.port = herald.port;
  const heraldPort = herald.port;

  async function stopHerald(): Promise<void> {
    await herald?.close();
    herald = undefined;
  }

  async function startHerald(): Promise<void> {
    herald ??= await startBridgeHerald(heraldSettings);
  }

  let sdkPage: Promise<string> | undefined;

  const server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      if (!response.headersSent) json(response, 500, { error: "internal", message: error.message });
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (request.method === "GET" && path === "/config.json") return json(response, 200, { heraldPort });
    // Take Herald away and bring it back while the pages stay up, to watch the page reconnect.
    if (request.method === "POST" && path === "/demo/herald/stop") {
      await stopHerald();
      return json(response, 200, { herald: "stopped" });
    }
    if (request.method === "POST" && path === "/demo/herald/start") {
      await startHerald();
      return json(response, 200, { herald: "started" });
    }
    if (request.method === "POST" && path === "/api/cas-deposits") {
      const body = await readJson(request);
      const problem = checkAddress(body.polygon_address) ?? checkAmount(body.amount);
      if (problem) return json(response, 400, problem);
      const { rows } = await pool.query(
        `INSERT INTO ${tables.casDeposits} (polygon_address, deposit_address, amount) VALUES ($1, $2, $3) RETURNING *`,
        [body.polygon_address, cascoinAddress(), body.amount],
      );
      return json(response, 201, rows[0]);
    }
    if (request.method === "POST" && path === "/api/wcas-return-intentions") {
      const body = await readJson(request);
      const problem = checkAddress(body.polygon_address) ?? checkAmount(body.amount) ?? checkCascoin(body.cas_address);
      if (problem) return json(response, 400, problem);
      const { rows } = await pool.query(
        `INSERT INTO ${tables.returnIntentions} (polygon_address, cas_address, amount) VALUES ($1, $2, $3) RETURNING *`,
        [body.polygon_address, body.cas_address, body.amount],
      );
      return json(response, 201, { ...rows[0], bridge_contract: BRIDGE_CONTRACT });
    }
    const one = /^\/api\/(cas-deposits|wcas-return-intentions)\/(\d+)$/.exec(path);
    if (request.method === "GET" && one) {
      const table = one[1] === "cas-deposits" ? tables.casDeposits : tables.returnIntentions;
      const { rows } = await pool.query(`SELECT * FROM ${table} WHERE id = $1`, [Number(one[2])]);
      return rows[0] ? json(response, 200, rows[0]) : json(response, 404, { error: "not_found", message: `no ${one[1]} ${one[2]}` });
    }
    const txs = /^\/api\/users\/([^/]+)\/polygon-transactions$/.exec(path);
    if (request.method === "GET" && txs) {
      const problem = checkAddress(txs[1]);
      if (problem) return json(response, 400, problem);
      const { rows } = await pool.query(`SELECT * FROM ${tables.polygonTransactions} WHERE polygon_address = $1 ORDER BY id`, [txs[1]]);
      return json(response, 200, rows);
    }
    if (request.method === "GET" && (path === "/sdk" || path.startsWith(SDK_BASE))) {
      sdkPage ??= buildPage(SDK_DIR, { base: SDK_BASE });
      const file = path.length <= SDK_BASE.length ? "/index.html" : path.slice(SDK_BASE.length - 1);
      if (await sendPageFile(response, await sdkPage, file, { "cache-control": "no-store" })) return;
      return json(response, 404, { error: "not_found", message: `no page ${path}` });
    }
    if (request.method === "GET") {
      if (await sendPageFile(response, WEB_DIR, path === "/" ? "/cas_to_poly.html" : path, { "cache-control": "no-store" })) return;
      return json(response, 404, { error: "not_found", message: `no page ${path}` });
    }
    json(response, 404, { error: "not_found", message: `no route ${request.method} ${path}` });
  }

  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://${host}:${port}`,
    heraldUrl: `http://${host}:${heraldPort}`,
    tables,
    pool,
    stopHerald,
    startHerald,
    async close() {
      server.closeAllConnections();
      server.close();
      await herald?.close();
      herald = undefined;
      await pool.end();
    },
  };
}

/** The bridge contract users send wCAS to (a placeholder: this example moves no tokens). */
const BRIDGE_CONTRACT = "0x000000000000000000000000000000000000b21d";

function cascoinAddress(): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  return "C" + [...randomBytes(33)].map((byte) => alphabet[byte % alphabet.length]).join("");
}

function checkAddress(value: unknown) {
  return typeof value === "string" && POLYGON_ADDRESS.test(value) ? undefined : { error: "invalid_address", message: "Invalid user address" };
}

function checkAmount(value: unknown) {
  return typeof value === "number" && value > 0 && Number.isFinite(value) ? undefined : { error: "invalid_amount", message: "Amount must be a positive number" };
}

function checkCascoin(value: unknown) {
  return typeof value === "string" && /^[1-9A-HJ-NP-Za-km-z]{26,40}$/.test(value) ? undefined : { error: "invalid_cas_address", message: "Invalid Cascoin address" };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error("body too large");
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
