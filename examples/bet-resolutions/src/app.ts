/**
 * The bet resolutions example: one HTTP server with the React page, the bets API, the seed's
 * polling endpoint and status endpoint, and Herald mounted on it for `/ws/bet-updates`.
 *
 * Resolving a bet publishes one event to the bettor's channel (`bets:user:<id>`) and one to the
 * public feed (`bets:all`); Herald delivers them in the seed's flat format, keeps them as history
 * (which the polling endpoint reads) and, when SMTP_* is set, emails the bettor through its email
 * sink, which asks this app for the bettor's address.
 *
 * EMAIL_WHEN=unseen emails only a bettor whose page did not show the resolution: the `bets`
 * namespace keeps receipts, the socket's frames stay flat but name their channel and offset
 * (envelope flat-ack), the page acknowledges each one it handled, and the email rule waits
 * EMAIL_UNSEEN_AFTER (30s) for that acknowledgement before it sends.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createHerald, loadConfig, type Herald, type HeraldConfigInput } from "@herald/server";
import { buildPage } from "../../shared/build-page.js";
import { sendPageFile } from "../../shared/serve-page.js";
import { BetStore, RESULTS, type Bet, type BetResult } from "./bets.js";

const HERALD_CONFIG = fileURLToPath(new URL("../herald.yaml", import.meta.url));
type UpdateType = "bet_resolved" | "bet_disputed" | "bet_updated";
const EMAIL_WHEN = ["always", "unseen"] as const;

export interface BetOptions {
  /** A page already built with buildPage (tests build it once); built now when absent. */
  pageDir?: string;
  port?: number;
  host?: string;
  /** Environment for Herald (SMTP_*, FROM_*, HERALD_*) and the app (EMAIL_WHEN, EMAIL_UNSEEN_AFTER); default none. */
  env?: Record<string, string | undefined>;
  logLevel?: "info" | "warn" | "error" | "silent";
}

export interface RunningBets {
  url: string;
  herald: Herald;
  store: BetStore;
  close(): Promise<void>;
}

export async function startBetResolutions(options: BetOptions): Promise<RunningBets> {
  const host = options.host ?? "127.0.0.1";
  const emailWhen = options.env?.EMAIL_WHEN || "always";
  if (!(EMAIL_WHEN as readonly string[]).includes(emailWhen)) throw new Error(`EMAIL_WHEN must be ${EMAIL_WHEN.join(" or ")}, not "${emailWhen}"`);
  const unseen = emailWhen === "unseen";
  const store = new BetStore();
  const pageDir = options.pageDir ?? (await buildPage(fileURLToPath(new URL("../web", import.meta.url))));
  let herald: Herald | undefined;
  let heraldUrl = "";

  const server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      if (!response.headersSent) json(response, 500, { error: "internal", message: error.message });
      else response.destroy();
    });
  });
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const address = server.address();
  const url = `http://${host}:${typeof address === "object" && address ? address.port : 0}`;

  const smtpConfigured = Boolean(options.env?.SMTP_SERVER);
  herald = await createHerald({
    configFile: HERALD_CONFIG,
    env: options.env ?? {},
    config: {
      logLevel: options.logLevel ?? "info",
      ...(unseen ? receiptsConfig() : {}),
      ...(smtpConfigured
        ? {
            sinks: {
              email: {
                rules: [
                  {
                    on: { channel: "bets:user:*", types: ["bet_resolved"] },
                    lookup: `${url}/api/v1/users/{data.user_id}`,
                    subject: "Your bet {data.bet_id} is settled: {data.data.result}",
                    text: "Your bet {data.bet_id} was settled: {data.data.result}. {data.data.resolution_notes}",
                    html: "<h2>Bet {data.bet_id} settled</h2><p>Result: <b>{data.data.result}</b></p><p>{data.data.resolution_notes}</p>",
                    // The page's user is the route's user_id; the channel's suffix would be "user:<id>".
                    ...(unseen ? { unseen: options.env?.EMAIL_UNSEEN_AFTER || "30s", user: "{data.user_id}" } : {}),
                  },
                ],
              },
            },
          }
        : {}),
    },
  });
  herald.attach(server);
  // Herald's own HTTP API on a loopback port, for the status endpoint.
  heraldUrl = await herald.listen({ port: 0, host: "127.0.0.1" });

  async function publish(type: UpdateType, bet: Bet): Promise<void> {
    const timestamp = bet.updated_at;
    const message = {
      bet_id: bet.id,
      user_id: bet.user_id,
      data: { bet_id: bet.id, status: bet.status, result: bet.result, resolution_notes: bet.resolution_notes, title: bet.title, updated_at: bet.updated_at },
      timestamp,
    };
    await herald!.publish(`bets:user:${bet.user_id}`, type, message);
    await herald!.publish("bets:all", type, message);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname: path, searchParams: query } = new URL(request.url ?? "/", "http://localhost");
    const userId = query.get("user_id") || undefined;
    if (request.method === "GET" && path === "/api/v1/bets") return json(response, 200, { bets: store.forUser(userId) });
    if (request.method === "GET" && path === "/api/v1/bets/updates") return json(response, 200, await updatesSince(query.get("since"), userId, response));
    if (request.method === "GET" && path === "/ws/status") return json(response, 200, await connectionStatus());
    const user = /^\/api\/v1\/users\/([^/]+)$/.exec(path);
    if (request.method === "GET" && user) {
      const found = store.users.get(decodeURIComponent(user[1]!));
      return found ? json(response, 200, found) : json(response, 404, { error: "not_found", message: "no such user" });
    }
    const action = /^\/api\/v1\/bets\/([^/]+)\/(resolve|dispute|update)$/.exec(path);
    if (request.method === "POST" && action) {
      const id = decodeURIComponent(action[1]!);
      if (!store.bets.has(id)) return json(response, 404, { error: "not_found", message: `no bet ${id}` });
      const body = await readJson(request);
      const notes = typeof body.resolution_notes === "string" ? body.resolution_notes : null;
      if (action[2] === "resolve") {
        if (!RESULTS.includes(body.result as BetResult)) return json(response, 400, { error: "invalid_result", message: `result must be one of ${RESULTS.join(", ")}` });
        const bet = store.update(id, { status: "settled", result: body.result as BetResult, resolution_notes: notes })!;
        await publish("bet_resolved", bet);
        return json(response, 200, bet);
      }
      if (action[2] === "dispute") {
        const bet = store.update(id, { status: "disputed", resolution_notes: notes })!;
        await publish("bet_disputed", bet);
        return json(response, 200, bet);
      }
      const bet = store.update(id, { resolution_notes: notes })!;
      await publish("bet_updated", bet);
      return json(response, 200, bet);
    }
    if (request.method === "GET" && !path.startsWith("/api/")) {
      if (await sendPageFile(response, pageDir, path === "/" ? "/index.html" : path)) return;
      return json(response, 404, { error: "not_found", message: `no file ${path}` });
    }
    json(response, 404, { error: "not_found", message: `no route ${request.method} ${path}` });
  }

  /** The seed's polling endpoint, answered from Herald's history of the user's (or the public) channel. */
  async function updatesSince(sinceText: string | null, userId: string | undefined, response: ServerResponse) {
    const since = sinceText ? Date.parse(sinceText) : Date.now() - 3_600_000;
    if (Number.isNaN(since)) {
      json(response, 400, { error: "invalid_since", message: "since must be an ISO-8601 timestamp" });
      return undefined;
    }
    if (userId !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(userId)) {
      json(response, 400, { error: "invalid_user_id", message: "Invalid user_id" });
      return undefined;
    }
    const history = await herald!.hub.history(userId ? `bets:user:${userId}` : "bets:all", {});
    const updates = history.events
      .filter((event) => event.time > since)
      .map((event) => ({ type: event.type, ...(event.data as Record<string, unknown>) }));
    const last = history.events.at(-1);
    return { updates, last_update: last && last.time > since ? new Date(last.time).toISOString() : new Date(since).toISOString(), count: updates.length };
  }

  async function connectionStatus() {
    const status = (await (await fetch(`${heraldUrl}/api/status`)).json()) as { connections: number; users: number; channels: number; events: { published: number; delivered: number } };
    return { active_connections: status.connections, active_users: status.users, channels: status.channels, messages_published: status.events.published, messages_delivered: status.events.delivered };
  }

  return {
    url,
    herald,
    store,
    async close() {
      server.closeAllConnections();
      server.close();
      await herald?.close();
    },
  };
}

/**
 * EMAIL_WHEN=unseen: receipts on `bets`, and herald.yaml's flat routes as flat-ack, so that the
 * page can acknowledge. Routes are a list, which an override replaces whole: they are read from
 * herald.yaml and changed only in their envelope.
 */
function receiptsConfig(): HeraldConfigInput {
  const routes = loadConfig({ file: HERALD_CONFIG, env: {} }).routes.map((route) => (route.envelope === "flat" ? { ...route, envelope: "flat-ack" as const } : route));
  return { routes, namespaces: { bets: { receipts: true } } };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
