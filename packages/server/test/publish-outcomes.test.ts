/**
 * What a publisher is told is what happened, under faults: over real HTTP, against a Redis of the
 * test's own that is stopped and killed mid-stream, and a node that is sent SIGTERM mid-stream.
 * A publish answered 200 is stored; one answered `engine_unavailable` (or cut off by a shutdown)
 * is not; one answered `engine_timeout` may be, and a retry with the same Idempotency-Key, on any
 * node, settles it: every event ends up stored exactly once.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startHerald, type RunningHerald } from "./support/herald.js";
import { startNodeProcess } from "./support/node-process.js";
import { RedisServer, redisServerSkip } from "./support/redis-server.js";

interface Answer {
  status: number;
  code?: string;
  offset?: number;
  replayed?: boolean;
  /** The request got no HTTP answer at all (connection refused or cut). */
  cut?: boolean;
}

const CHANNEL = "orders:faults";

async function publish(baseUrl: string, n: number): Promise<Answer> {
  try {
    const response = await fetch(`${baseUrl}/api/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `order-${n}` },
      body: JSON.stringify({ channel: CHANNEL, type: "order", data: { n } }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json()) as { published?: Array<{ offset: number }>; error?: { code: string } };
    return {
      status: response.status,
      code: body.error?.code,
      offset: body.published?.[0]?.offset,
      replayed: response.headers.get("idempotent-replayed") === "true",
    };
  } catch {
    return { status: 0, cut: true };
  }
}

/** Which `n` Redis holds, with their offsets, read straight from the channel's stream. */
async function stored(url: string): Promise<Array<{ n: number; offset: number }>> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const entries = await redis.xrange(`herald:{${CHANNEL}}:stream`, "-", "+");
    return entries.map(([id, fields]) => ({ offset: Number(id.split("-")[0]), n: (JSON.parse(fields[fields.indexOf("d") + 1]!) as { n: number }).n }));
  } finally {
    redis.disconnect();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs `workers` concurrent publishers against `baseUrl` until `stop()` says so; returns every answer by n. */
function publishers(baseUrl: () => string, answers: Map<number, Answer>, next: { n: number }, workers = 8) {
  let running = true;
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const n = ++next.n;
        answers.set(n, await publish(baseUrl(), n));
      }
    }),
  );
  return {
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

/** Every n published ends up in the stream exactly once. */
function assertEachOnce(held: Array<{ n: number }>, count: number): void {
  const seen = new Map<number, number>();
  for (const { n } of held) seen.set(n, (seen.get(n) ?? 0) + 1);
  const twice = [...seen].filter(([, times]) => times > 1).map(([n]) => n);
  assert.deepEqual(twice, [], `events stored more than once: ${twice.join(", ")}`);
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !seen.has(n));
  assert.deepEqual(missing, [], `events never stored: ${missing.join(", ")}`);
}

describe("publish answers under faults", { skip: redisServerSkip() }, () => {
  it("Redis SIGTERM and SIGKILL mid-stream: nothing answered engine_unavailable was stored; retries with the same key on another node store each event once", async () => {
    const redis = await RedisServer.start({ persistence: "aof" });
    const config = { engine: { type: "redis" as const, redisUrl: redis.url }, history: { size: 100_000, ttl: "1h" } };
    const nodes: RunningHerald[] = [];
    try {
      nodes.push(await startHerald(config), await startHerald(config));
      const [a, b] = nodes as [RunningHerald, RunningHerald];
      const answers = new Map<number, Answer>();
      const next = { n: 0 };
      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        const from = next.n;
        const stream = publishers(() => a.url, answers, next);
        await until("publishes stored before the fault", () => next.n >= from + 100);
        await redis.stop(signal);
        await until("a refused publish", () => [...answers.values()].some((answer) => answer.status !== 200));
        await stream.stop();
        await redis.restart();
        for (const node of nodes) await until("the node to see Redis again", async () => (await fetch(`${node.url}/readyz`)).status === 200);
      }
      const failed = [...answers].filter(([, answer]) => answer.status !== 200);
      assert.ok(failed.length > 0);
      for (const [, answer] of failed) assert.ok(answer.code === "engine_unavailable" || answer.code === "engine_timeout", `unexpected failure ${JSON.stringify(answer)}`);

      const held = await stored(redis.url);
      const offsetOf = new Map(held.map(({ n, offset }) => [n, offset]));
      for (const [n, answer] of answers) {
        if (answer.status === 200) assert.equal(offsetOf.get(n), answer.offset, `publish ${n} answered 200 with offset ${answer.offset}`);
        if (answer.code === "engine_unavailable") assert.equal(offsetOf.has(n), false, `publish ${n} was answered engine_unavailable but stored`);
      }

      // The publisher retries every failure, on the other node, with the same key.
      for (const [n] of failed) {
        const retry = await publish(b.url, n);
        assert.equal(retry.status, 200, `retry of ${n}: ${JSON.stringify(retry)}`);
        const before = offsetOf.get(n);
        if (before !== undefined) assert.deepEqual({ offset: retry.offset, replayed: retry.replayed }, { offset: before, replayed: true }, `retry of ${n}, stored before`);
      }
      assertEachOnce(await stored(redis.url), next.n);
    } finally {
      for (const node of nodes) await node.close();
      await redis.close();
    }
  });

  it("node SIGTERM mid-stream: each publish is either answered 200 and stored, or not stored", async () => {
    const redis = await RedisServer.start();
    try {
      const node = await startNodeProcess("publish-sigterm", { HERALD_ENGINE: "redis", HERALD_REDIS_URL: redis.url, HERALD_HISTORY_SIZE: "100000", HERALD_HISTORY_TTL: "1h" });
      const answers = new Map<number, Answer>();
      const next = { n: 0 };
      const stream = publishers(() => node.url, answers, next);
      await until("publishes stored before the signal", () => next.n >= 100);
      await node.kill("SIGTERM");
      await until("a publish refused by the stopping node", () => [...answers.values()].some((answer) => answer.status !== 200));
      await stream.stop();
      assert.equal(node.child.exitCode, 0, node.output());

      const offsetOf = new Map((await stored(redis.url)).map(({ n, offset }) => [n, offset]));
      for (const [n, answer] of answers) {
        if (answer.status === 200) assert.equal(offsetOf.get(n), answer.offset, `publish ${n} answered 200 with offset ${answer.offset}`);
        else assert.equal(offsetOf.has(n), false, `publish ${n} was stored but answered ${JSON.stringify(answer)}`);
      }
    } finally {
      await redis.close();
    }
  });
});
