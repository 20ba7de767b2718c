/**
 * "The same recovery on all three transports" (README), held to one fault table: each transport's
 * @herald/client subscriber goes through the same Redis faults, against a real Herald on the Redis
 * engine pointed at a Redis this test starts (never the shared one):
 *
 * 1. subscribe during an outage: the refusal (engine_unavailable) is shown and retried with
 *    backoff until Redis is back, then every event arrives;
 * 2. Redis restarts without persistence (streams and positions lost): `recovery_failed`, then the
 *    new epoch's events;
 * 3. history flushed (FLUSHALL) while subscribed: the new epoch's events arrive, or are covered by
 *    a `recovery_failed`.
 *
 * Whatever the transport, every published event is delivered once, in order, or lies in the range
 * of a `recovery_failed` the app was given: nothing is lost silently.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Redis } from "ioredis";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { RedisServer, redisServerSkip } from "../../server/test/support/redis-server.js";
import { Herald, type RecoveryFailedContext, type SubscriptionErrorContext, type TransportName } from "../src/index.js";
import { until } from "./support/wait.js";

type Ticks = { tick: { n: number } };
interface Position {
  epoch: string;
  offset: number;
}

const skip = redisServerSkip();
const CHANNEL = "feed:prices";

for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
  describe(`fault table over ${transport}`, { skip }, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it("recovers the same way from a subscribe during an outage, a Redis restart without persistence and a flushed history", async () => {
      const redis = await RedisServer.start({ persistence: "none" });
      cleanups.push(() => redis.close());
      const hub: RunningHerald = await startHerald({ engine: { type: "redis", redisUrl: redis.url } });
      cleanups.push(() => hub.close());
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 300 }, pollTimeout: 2_000 });
      cleanups.push(() => client.disconnect());
      if (process.env.HERALD_DEBUG) client.on("state", (c) => console.log(transport, c.newState, c.reason, c.message ?? ""));

      const received: Position[] = [];
      const failures: RecoveryFailedContext[] = [];
      const refusals: SubscriptionErrorContext[] = [];
      const published: Position[] = [];
      const watchers = new Set<() => void>();
      const poke = (): void => {
        for (const watcher of watchers) watcher();
      };
      const waitFor = async (check: () => boolean, what: string): Promise<void> => {
        const wait = until(check, `${what} (${transport}; received ${JSON.stringify(received.slice(-3))}, failures ${JSON.stringify(failures)}, status ${subscription.state.status})`, 20_000);
        watchers.add(wait.poke);
        try {
          await wait.done;
        } finally {
          watchers.delete(wait.poke);
        }
      };
      const subscription = client.subscribe<Ticks>(CHANNEL);
      subscription.on("tick", (_data, frame) => {
        received.push({ epoch: frame.epoch, offset: frame.offset });
        poke();
      });
      subscription.on("recovery_failed", (context) => {
        failures.push(context);
        poke();
      });
      subscription.on("error", (context) => {
        refusals.push(context);
        poke();
      });
      subscription.watch(poke);
      let clientErrors = 0;
      client.on("error", () => {
        clientErrors += 1;
        poke();
      });
      client.on("state", poke);
      let n = 0;
      const publish = async (count: number): Promise<void> => {
        for (let i = 0; i < count; i++) {
          const event = await hub.herald.publish(CHANNEL, "tick", { n: ++n });
          published.push({ epoch: event.epoch, offset: event.offset });
        }
      };
      const has = (position: Position): boolean => received.some((r) => r.epoch === position.epoch && r.offset === position.offset);
      /** Waits until the node's /readyz says its engine is up (200) or down (503). */
      const engineHealth = async (status: 200 | 503): Promise<void> => {
        const deadline = Date.now() + 20_000;
        while ((await fetch(`${hub.url}/readyz`)).status !== status) {
          if (Date.now() > deadline) assert.fail(`the node's /readyz did not answer ${status} within 20 s`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const engineBack = (): Promise<void> => engineHealth(200);

      // 1. Subscribe during an outage.
      await redis.stop();
      await engineHealth(503);
      client.connect();
      await waitFor(() => refusals.length > 0 || clientErrors > 0 || client.state === "reconnecting", "the subscribe refused (or the connection lost) while Redis is down");
      const duringOutage = subscription.state;
      await redis.restart();
      await waitFor(() => subscription.state.status === "subscribed", "the subscription made once Redis is back");
      await engineBack();
      await publish(20);
      await waitFor(() => published.every(has), "the 20 events published after the outage");

      // 2. Redis restarts without persistence: the stream and its position are gone.
      const beforeRestart = published.at(-1)!;
      await redis.restart();
      await waitFor(() => failures.length >= 1, "recovery_failed after the Redis restart");
      assert.deepEqual(failures[0]!.since, beforeRestart);
      assert.notEqual(failures[0]!.epoch, beforeRestart.epoch);
      await waitFor(() => subscription.state.status === "subscribed", "subscribed again");
      await engineBack();
      await publish(5);
      await waitFor(() => published.slice(-5).every(has), "the new epoch's events");

      // 3. History flushed while subscribed.
      const flusher = new Redis(redis.url);
      await flusher.flushall();
      flusher.disconnect();
      await publish(1);
      const afterFlush = published.at(-1)!;
      await waitFor(() => has(afterFlush) || failures.some((f) => f.epoch === afterFlush.epoch), "the first event after the flush, or its recovery_failed");
      await waitFor(() => subscription.state.status === "subscribed", "subscribed after the flush");
      await publish(5);
      await waitFor(() => published.slice(-5).every(has), "the events after the flush");

      // The refusal during the outage was shown to the app as such, and not as final.
      const refusal = refusals.find((r) => r.code === "engine_unavailable");
      assert.ok(refusal, `the subscription's error event named engine_unavailable (got ${JSON.stringify(refusals)})`);
      assert.equal(refusal.channel, CHANNEL);
      assert.equal(typeof refusal.retryIn, "number", "a retryable refusal says when it is retried");
      assert.equal(duringOutage.status, "subscribing", "a retryable refusal is not final");

      // Nothing lost silently: each event was delivered, or lies in a recovery_failed's range.
      const covered = (event: Position): boolean =>
        failures.some((f) => (event.epoch === f.since.epoch && event.offset > f.since.offset) || (event.epoch === f.epoch && event.offset <= f.offset));
      const silent = published.filter((event) => !has(event) && !covered(event));
      assert.deepEqual(silent, [], "events neither delivered nor reported by recovery_failed");
      // Nothing twice, and in order within each epoch.
      const keys = received.map((r) => `${r.epoch}:${r.offset}`);
      assert.equal(new Set(keys).size, keys.length, `duplicates in ${keys.join(" ")}`);
      for (let i = 1; i < received.length; i++) {
        if (received[i]!.epoch === received[i - 1]!.epoch) assert.ok(received[i]!.offset > received[i - 1]!.offset, `out of order at ${keys[i]}`);
      }
    });
  });
}
