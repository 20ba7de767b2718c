/**
 * The Redis engine when its node is cut off from Redis (through a TCP proxy; Redis keeps serving
 * the other nodes): publishes are refused, availability is reported, and after the cut the node
 * catches up on what it missed, or reports the gap when history no longer holds it.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type StreamEvent, type StreamOptions } from "../../src/engine/engine.js";
import { RedisEngine } from "../../src/engine/redis.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const prefix = uniquePrefix("faults");
const target = new URL(REDIS_URL);

/** Records what an engine reports, and waits on it. */
class Recorder {
  readonly events: StreamEvent[] = [];
  readonly gaps: string[] = [];
  readonly availability: boolean[] = [];
  private wakers: Array<() => void> = [];
  readonly handler = {
    onEvent: (event: StreamEvent) => this.push(() => this.events.push(event)),
    onGap: (channel: string) => this.push(() => this.gaps.push(channel)),
    onAvailabilityChange: (available: boolean) => this.push(() => this.availability.push(available)),
  };

  private push(change: () => void): void {
    change();
    for (const wake of this.wakers.splice(0)) wake();
  }

  async until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events ${JSON.stringify(this.events.map((e) => e.offset))}, gaps ${this.gaps}, availability ${this.availability}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

describe("redis engine: a node cut off from Redis", { skip: await redisSkip() }, () => {
  const engines: RedisEngine[] = [];
  const proxies: TcpProxy[] = [];
  after(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await deleteKeys(prefix);
  });

  /** Node A reaches Redis through a proxy that the test can cut; node B reaches it directly. */
  async function pair(): Promise<{ a: RedisEngine; b: RedisEngine; proxy: TcpProxy; seen: Recorder }> {
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    proxies.push(proxy);
    const url = new URL(REDIS_URL);
    url.port = String(proxy.port);
    url.hostname = "127.0.0.1";
    const a = new RedisEngine({ url: url.toString(), prefix, commandTimeoutMs: 2_000 });
    const b = new RedisEngine({ url: REDIS_URL, prefix });
    engines.push(a, b);
    const seen = new Recorder();
    await a.start(seen.handler);
    await b.start({ onEvent: () => undefined });
    return { a, b, proxy, seen };
  }

  const channel = (label: string): string => `${label}:${randomBytes(4).toString("hex")}`;

  it("refuses publishes while cut off, reports unavailable, then available again", async () => {
    const { a, proxy, seen } = await pair();
    const ch = channel("refuse");
    const options: StreamOptions = { historySize: 100, historyTtlMs: 60_000 };
    assert.equal(a.status().available, true);
    proxy.cut();
    await seen.until("unavailable", () => seen.availability.includes(false));
    assert.equal(a.status().available, false);
    await assert.rejects(a.publish(ch, "n", 1, options), (error: { code?: string }) => error.code === "engine_unavailable");
    await assert.rejects(a.history(ch, { since: 0 }, options), (error: { code?: string }) => error.code === "engine_unavailable");
    proxy.restore();
    await seen.until("available again", () => seen.availability.at(-1) === true);
    const event = await a.publish(ch, "n", 2, options);
    assert.equal(event.offset, 1, "the refused publish was not stored");
  });

  it("delivers the events published while it was cut off, in order, once each", async () => {
    const { a, b, proxy, seen } = await pair();
    const ch = channel("catchup");
    const options: StreamOptions = { historySize: 100, historyTtlMs: 60_000 };
    await a.subscribe(ch);
    for (let i = 1; i <= 3; i++) await b.publish(ch, "n", i, options);
    await seen.until("the first 3 events", () => seen.events.length === 3);
    proxy.cut();
    await seen.until("unavailable", () => seen.availability.includes(false));
    for (let i = 4; i <= 8; i++) await b.publish(ch, "n", i, options);
    proxy.restore();
    await seen.until("the missed events", () => seen.events.length >= 8);
    for (let i = 9; i <= 10; i++) await b.publish(ch, "n", i, options);
    await seen.until("all 10 events", () => seen.events.length >= 10);
    assert.deepEqual(seen.events.map((e) => e.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(seen.gaps, []);
  });

  it("reports a gap when the missed events already left history, then goes on live", async () => {
    const { a, b, proxy, seen } = await pair();
    const ch = channel("gap");
    const options: StreamOptions = { historySize: 2, historyTtlMs: 60_000 };
    await a.subscribe(ch);
    await b.publish(ch, "n", 1, options);
    await seen.until("event 1", () => seen.events.length === 1);
    proxy.cut();
    await seen.until("unavailable", () => seen.availability.includes(false));
    for (let i = 2; i <= 6; i++) await b.publish(ch, "n", i, options);
    proxy.restore();
    await seen.until("the gap report", () => seen.gaps.length === 1);
    assert.deepEqual(seen.gaps, [ch]);
    await seen.until("available again", () => seen.availability.at(-1) === true);
    await b.publish(ch, "n", 7, options);
    await seen.until("event 7", () => seen.events.some((e) => e.offset === 7));
    assert.deepEqual(seen.events.map((e) => e.offset), [1, 7], "nothing lost silently: 2-6 are reported as a gap, not delivered half");
  });

  it("is not waited for while cut off, refuses to survey then, and answers surveys again once back", async () => {
    // A prefix of its own: the other tests' nodes, still running, would answer these surveys too.
    const own = uniquePrefix("faults-control");
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    proxies.push(proxy);
    const url = new URL(REDIS_URL);
    url.port = String(proxy.port);
    url.hostname = "127.0.0.1";
    const a = new RedisEngine({ url: url.toString(), prefix: own, commandTimeoutMs: 2_000 });
    const b = new RedisEngine({ url: REDIS_URL, prefix: own, commandTimeoutMs: 2_000 });
    engines.push(a, b);
    const seen = new Recorder();
    await a.start({ ...seen.handler, onControl: async () => "a" });
    await b.start({ onEvent: () => undefined, onControl: async () => "b" });
    assert.deepEqual(await b.survey("who"), { answers: ["b", "a"], missing: 0 });
    proxy.cut();
    await seen.until("unavailable", () => seen.availability.includes(false));
    await assert.rejects(a.survey("who"), (error: { code?: string }) => error.code === "engine_unavailable");
    const started = Date.now();
    assert.deepEqual(await b.survey("who"), { answers: ["b"], missing: 0 }, "a node cut off does not get the request, so it is not waited for");
    assert.ok(Date.now() - started < 1_000, "no wait for the node that is gone");
    proxy.restore();
    await seen.until("available again", () => seen.availability.at(-1) === true);
    assert.deepEqual(await b.survey("who"), { answers: ["b", "a"], missing: 0 }, "back, it listens for control messages again");
  });
});
