/**
 * One refusal table, run against every way in. Each transport admits its clients through the same
 * admission path, so each refusal gives the same code everywhere, each in its transport's own
 * form: an HTTP answer before the upgrade or a close for WebSocket, an HTTP answer or an `error`
 * record for SSE, an HTTP answer for polling. A new transport adds one entry to `TRANSPORTS`.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";
import { deadline, waitUntil } from "../support/deadline.js";
import { HonestClient, SECRET, assertAlive, hs256 } from "./attack-support.js";

const ALLOWED_ORIGIN = "https://app.example";
const MAX_PER_IP = 4;

/** What a client saw: the error code, and how it came (for the message when a row fails). */
interface Refusal {
  readonly code: string;
  readonly how: string;
}

interface Attempt {
  /** Channel asked for. */
  readonly channel: string;
  readonly token?: string;
  readonly origin?: string;
}

interface Transport {
  readonly name: string;
  /** Tries to get the channel's events; resolves with the refusal, or rejects if it was let in. */
  refusal(hub: RunningHerald, attempt: Attempt): Promise<Refusal>;
}

function query(attempt: Attempt): string {
  const params = new URLSearchParams({ channel: attempt.channel });
  if (attempt.token) params.set("token", attempt.token);
  return params.toString();
}

function headers(attempt: Attempt): Record<string, string> {
  return attempt.origin ? { origin: attempt.origin } : {};
}

async function httpRefusal(response: Response): Promise<Refusal> {
  const body = (await response.json()) as { error?: { code?: string } };
  return { code: body.error?.code ?? `(no error code; HTTP ${response.status})`, how: `HTTP ${response.status}` };
}

const TRANSPORTS: Transport[] = [
  {
    name: "WebSocket",
    async refusal(hub, attempt) {
      const url = `${hub.wsUrl}/ws${attempt.token ? `?token=${attempt.token}` : ""}`;
      const socket = new WebSocket(url, { headers: headers(attempt) });
      const frames: Array<{ type?: string; code?: string }> = [];
      socket.on("message", (data) => frames.push(JSON.parse(data.toString())));
      return deadline(
        new Promise<Refusal>((resolve, reject) => {
          socket.on("unexpected-response", (_request, response) => {
            let text = "";
            response.on("data", (chunk: Buffer) => (text += chunk.toString()));
            response.on("end", () => {
              const code = (JSON.parse(text) as { error: { code: string } }).error.code;
              resolve({ code, how: `HTTP ${response.statusCode} before the upgrade` });
            });
          });
          socket.on("error", () => undefined);
          socket.on("open", () => socket.send(JSON.stringify({ type: "subscribe", id: 1, channel: attempt.channel })));
          socket.on("message", () => {
            const answer = frames.find((frame) => frame.type === "subscribed" || frame.type === "error");
            if (answer?.type === "subscribed") reject(new Error(`subscribed to ${attempt.channel}`));
            // A refused subscribe keeps the connection: say so, then leave.
            if (answer?.type === "error" && socket.readyState === WebSocket.OPEN) {
              setImmediate(() => {
                if (socket.readyState !== WebSocket.OPEN) return;
                resolve({ code: answer.code!, how: "error frame, connection kept" });
                socket.close();
              });
            }
          });
          socket.on("close", (code) => {
            const error = frames.find((frame) => frame.type === "error");
            resolve({ code: error?.code ?? "(no error frame)", how: `close ${code}` });
          });
        }),
        `the WebSocket attempt at ${attempt.channel}`,
      );
    },
  },
  {
    name: "SSE",
    async refusal(hub, attempt) {
      const stream = await SseReader.openOrRefusal(`${hub.url}/sse?${query(attempt)}`, headers(attempt));
      if (!(stream instanceof SseReader)) return { code: stream.body.error?.code ?? "(no error code)", how: `HTTP ${stream.status}` };
      try {
        const [error] = await stream.waitFor("error");
        return { code: String(error!.data.code), how: "error record in the stream" };
      } finally {
        stream.close();
      }
    },
  },
  {
    name: "polling",
    async refusal(hub, attempt) {
      const response = await fetch(`${hub.url}/api/updates?${query(attempt)}`, { headers: headers(attempt) });
      if (response.ok) throw new Error(`polling answered ${response.status}`);
      return httpRefusal(response);
    },
  },
];

describe("every transport refuses alike (one admission path)", () => {
  let hub: RunningHerald;
  let bob: HonestClient;
  let alice: string;

  before(async () => {
    hub = await startHerald({
      auth: { jwt: { secret: SECRET } },
      namespaces: { user: { personal: true } },
      security: { allowedOrigins: [ALLOWED_ORIGIN] },
      limits: { maxConnectionsPerIp: MAX_PER_IP },
    });
    alice = await hs256({ sub: "alice" }, { expiresIn: "1h" });
    bob = await HonestClient.connect(hub, "user:bob", `?token=${await hs256({ sub: "bob" }, { expiresIn: "1h" })}`);
  });
  after(async () => {
    await bob.close();
    await hub.close();
  });

  const HTTP_401 = { WebSocket: /^close 4501$/, SSE: /^HTTP 401$/, polling: /^HTTP 401$/ };
  const rows: Array<{ name: string; code: string; form: Record<string, RegExp>; attempt: () => Promise<Attempt> }> = [
    {
      name: "an origin not allowed",
      code: "origin_not_allowed",
      form: { WebSocket: /^HTTP 403 before the upgrade$/, SSE: /^HTTP 403$/, polling: /^HTTP 403$/ },
      attempt: async () => ({ channel: "user:alice", token: alice, origin: "https://evil.example" }),
    },
    {
      name: "a token not signed with the hub's key",
      code: "unauthorized",
      form: HTTP_401,
      attempt: async () => ({ channel: "user:alice", token: await hs256({ sub: "alice" }, { secret: "another-secret-of-enough-length-0123456789", expiresIn: "1h" }) }),
    },
    {
      name: "an expired token",
      code: "token_expired",
      form: HTTP_401,
      attempt: async () => ({ channel: "user:alice", token: await hs256({ sub: "alice", exp: Math.floor(Date.now() / 1000) - 3600 }) }),
    },
    {
      name: "another user's channel",
      code: "forbidden",
      // That channel's refusal alone: a WebSocket keeps its connection, an SSE stream its other channels.
      form: { WebSocket: /^error frame, connection kept$/, SSE: /^error record in the stream$/, polling: /^HTTP 403$/ },
      attempt: async () => ({ channel: "user:bob", token: alice, origin: ALLOWED_ORIGIN }),
    },
  ];

  for (const transport of TRANSPORTS) {
    for (const row of rows) {
      it(`${transport.name}: ${row.name} is refused with ${row.code}`, async () => {
        const refusal = await transport.refusal(hub, await row.attempt());
        assert.equal(refusal.code, row.code, `${transport.name} answered ${refusal.code} (${refusal.how})`);
        assert.match(refusal.how, row.form[transport.name]!);
        await assertAlive(hub);
        await bob.assertReceivesEverything(hub, 3);
      });
    }

    it(`${transport.name}: over the per-IP cap is refused with too_many_connections`, async () => {
      // Bob holds one connection; fill the rest of the cap with streams of Alice's own channel.
      const holders = await Promise.all(Array.from({ length: MAX_PER_IP - 1 }, () => SseReader.open(`${hub.url}/sse?channel=user:alice&token=${alice}`)));
      try {
        for (const holder of holders) await holder.waitFor("subscribed");
        const refusal = await transport.refusal(hub, { channel: "user:alice", token: alice });
        assert.equal(refusal.code, "too_many_connections", `${transport.name} answered ${refusal.code} (${refusal.how})`);
        assert.match(refusal.how, /HTTP 429/);
      } finally {
        for (const holder of holders) holder.close();
        // The next transport's turn needs the slots back: Bob's connection is the only one left.
        await waitUntil("the holders' connections to be released", async () => (await getJson(`${hub.url}/api/status`)).body.connections === 1);
      }
      await bob.assertReceivesEverything(hub, 3);
    });
  }
});
