/**
 * Fuzzing over real sockets: 10,000 random and mutated WebSocket frames and 10,000 random HTTP
 * bodies and query strings. The hub must answer all of it without a crash or an unhandled
 * rejection, and its heap must come back near where it started. Seeded, so a run is repeatable:
 * `node scripts/test.mjs security/fuzz` prints the figures quoted in docs/security.md.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { TestClient, startHerald } from "../support/herald.js";
import { HonestClient, assertAlive } from "./attack-support.js";
import { prng } from "../support/prng.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const random = prng(20240501);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const ALPHABET = [...'abcXYZ019:_-./@=+,{}[]"\\ \u0000\u00e9\u{1F600}<>%&?#\n\t'];

function randomText(max: number): string {
  let text = "";
  const length = Math.floor(random() * max);
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return text;
}

function randomValue(depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 5 : 7));
  switch (kind) {
    case 0: return null;
    case 1: return random() < 0.5;
    case 2: return pick([0, -1, 1.5, 2 ** 53, -(2 ** 60), Number.MAX_VALUE, 1e-300]);
    case 3: return randomText(40);
    case 4: return pick(["user:1", "a".repeat(300), "", "__proto__", "constructor", "ns:x:y"]);
    case 5: return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--) object[pick(["type", "channel", "id", "since", "token", "event", "data", "epoch", "offset", "__proto__", randomText(8)])] = randomValue(depth + 1);
      return object;
    }
  }
}

const VALID_FRAMES = [
  { type: "subscribe", channel: "fuzz:a", id: 1 },
  { type: "subscribe", channel: "fuzz:b", since: { epoch: "e", offset: 3 } },
  { type: "unsubscribe", channel: "fuzz:a" },
  { type: "publish", channel: "fuzz:a", event: "x", data: { n: 1 } },
  { type: "auth", token: "abc.def.ghi" },
  { type: "ping" },
  { type: "pong" },
];

function mutate(text: string): string {
  const chars = [...text];
  for (let edits = 1 + Math.floor(random() * 4); edits > 0; edits--) {
    const at = Math.floor(random() * (chars.length + 1));
    const op = Math.floor(random() * 3);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, ALPHABET[Math.floor(random() * ALPHABET.length)]!);
    else chars[at] = ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  }
  return chars.join("");
}

function fuzzFrame(): string {
  const kind = random();
  if (kind < 0.4) return mutate(JSON.stringify(pick(VALID_FRAMES)));
  if (kind < 0.8) {
    const value = randomValue();
    if (value && typeof value === "object" && !Array.isArray(value) && random() < 0.7) (value as Record<string, unknown>).type = pick(["subscribe", "unsubscribe", "publish", "auth", "ping", "connected", randomText(6)]);
    return JSON.stringify(value) ?? "null";
  }
  return randomText(200);
}

function queryText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
}

const FRAMES = 10_000;
const REQUESTS = 10_000;

describe("fuzzing", () => {
  // Its own limit: 20 000 requests take a minute alone and several on a shared 2-core machine.
  it(`${FRAMES} random frames and ${REQUESTS} random HTTP requests: no crash, no unhandled rejection, memory back near baseline`, { timeout: 600_000 }, async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    const onException = (error: unknown): void => void rejections.push(error);
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
    const started = Date.now();
    const hub = await startHerald({ limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 } });
    const honest = await HonestClient.connect(hub);
    gc();
    const baseline = process.memoryUsage().heapUsed;

    // WebSocket: 10 connections, each sends its share, then a marker subscribe that proves the server read everything before it.
    // Error frames by code and close codes, over every connection (a server close starts a new one).
    const answers = new Map<string, number>();
    const closeCodes = new Map<number, number>();
    let reconnects = 0;
    const tally = (client: TestClient): void => {
      for (const frame of client.frames) if (frame.type === "error") answers.set(String(frame.code), (answers.get(String(frame.code)) ?? 0) + 1);
    };
    const reopen = async (client: TestClient): Promise<TestClient> => {
      const { code } = await client.closed;
      closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
      tally(client);
      reconnects += 1;
      return TestClient.open(`${hub.wsUrl}/ws`);
    };
    const perConnection = FRAMES / 10;
    await Promise.all(
      Array.from({ length: 10 }, async (_, c) => {
        let client = await TestClient.open(`${hub.wsUrl}/ws`);
        for (let i = 0; i < perConnection; i++) {
          if (client.socket.readyState !== client.socket.OPEN) client = await reopen(client);
          client.send(fuzzFrame());
          if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
        }
        if (client.socket.readyState !== client.socket.OPEN) client = await reopen(client);
        client.send({ type: "subscribe", channel: `fuzz:marker-${c}`, id: `marker-${c}` });
        const marker = await client.next((frame) => frame.id === `marker-${c}`, 20_000);
        assert.equal(marker.type, "subscribed");
        tally(client);
        await client.close();
      }),
    );

    // HTTP: random publish bodies and random query strings on the read endpoints, 20 at a time.
    const statuses = new Map<number, number>();
    const paths = ["/api/updates", "/api/history", "/api/presence", "/api/status", "/healthz", "/nowhere"];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          let response: Response;
          if (n % 2 === 0) {
            const body = random() < 0.5 ? mutate(JSON.stringify({ channel: "fuzz:http", type: "t", data: randomValue() })) : JSON.stringify(randomValue()) ?? "";
            response = await fetch(`${hub.url}/api/publish`, { method: "POST", headers: { "content-type": pick(["application/json", "text/plain", "application/json; charset=utf-8", "application/x-www-form-urlencoded"]) }, body });
          } else {
            const query = Array.from({ length: 1 + Math.floor(random() * 4) }, () => `${encodeURIComponent(pick(["channel", "since", "limit", "timeout", "token", randomText(5)]))}=${encodeURIComponent(queryText(randomValue()))}`).join("&");
            // Keep long-polls short: a random timeout would only make the run slow.
            response = await fetch(`${hub.url}${pick(paths)}?timeout=0&${query}`);
          }
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }),
    );

    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    const after = process.memoryUsage().heapUsed;
    await hub.close();
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);

    const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
    const server500 = statuses.get(500) ?? 0;
    console.log(
      `fuzz: ${FRAMES} frames (${reconnects} reconnects after a server close, close codes ${JSON.stringify(Object.fromEntries(closeCodes))}), error frames by code ${JSON.stringify(Object.fromEntries(answers))}; ` +
        `${REQUESTS} HTTP requests by status ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `unhandled rejections/exceptions ${rejections.length}; heap ${mb(baseline)} MB before, ${mb(after)} MB after; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.equal(rejections.length, 0, `unhandled: ${rejections.map(String).join("; ")}`);
    assert.equal(server500, 0, "no request ended in an internal error");
    assert.equal(answers.get("internal_error") ?? 0, 0, "no frame ended in an internal error");
    // Without auth configured nothing in a frame is grounds to close: each bad frame gets an error
    // frame and the connection goes on. A close here (code in the log line above) is a regression.
    assert.equal(reconnects, 0, `bad frames closed connections: ${JSON.stringify(Object.fromEntries(closeCodes))}`);
    assert.ok(after < baseline + 32 * 1024 * 1024, `heap went from ${mb(baseline)} MB to ${mb(after)} MB`);
  });
});
