import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { createHerald } from "@herald/server";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { deadline } from "../../server/test/support/deadline.js";
import { Herald, type RecoveryFailedContext, type TransportName } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { connectSubscribed, dropAndResubscribe, until, waitForState } from "./support/wait.js";

type Ticks = { tick: { n: number } };

for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
  describe(`recovery over ${transport}`, () => {
    it("after the network fails while events are published, delivers every missed event once, in order", async () => {
      const hub = await startHerald();
      const proxy = await FlakyProxy.start(hub.url);
      const client = new Herald({ url: proxy.url, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 2_000 });
      try {
        const offsets: number[] = [];
        const subscription = client.subscribe<Ticks>("user:alice");
        const total = 45;
        const all = until(() => offsets.length >= total, `${total} events`);
        subscription.on("tick", (data, frame) => {
          assert.equal(data.n, frame.offset);
          offsets.push(frame.offset);
          all.poke();
        });
        if (process.env.HERALD_DEBUG) client.on("state", (c) => console.log(transport, c.newState, c.reason, c.message ?? ""));
        const subscribed = await connectSubscribed(client, subscription);

        let n = 0;
        const publish = (count: number) => Promise.all(Array.from({ length: count }, () => hub.herald.publish("user:alice", "tick", { n: ++n })));
        await publish(15);
        for (let cut = 0; cut < 2; cut++) {
          // Published while the client is away: only recovery can bring these.
          const change = await dropAndResubscribe(client, proxy, subscribed, () => publish(10));
          assert.equal(change.transport, transport);
          await publish(5);
        }
        await all.done;
        assert.deepEqual(offsets, Array.from({ length: total }, (_, i) => i + 1));
        assert.equal(subscribed.contexts.length, 3);
        assert.deepEqual(subscribed.contexts.map((context) => context.recovered), [false, true, true]);
      } finally {
        client.disconnect();
        await proxy.close();
        await hub.close();
      }
    });
  });
}

describe("recovery after a server restart (memory engine: history lost)", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
    it(`surfaces recovered: false as recovery_failed, then delivers the new stream (${transport})`, async () => {
      let hub: RunningHerald = await startHerald();
      const port = hub.herald.port;
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 2_000 });
      cleanups.push(() => client.disconnect());
      const subscription = client.subscribe<Ticks>("user:bob");
      const events: Array<{ epoch: string; offset: number }> = [];
      const failures: RecoveryFailedContext[] = [];
      const two = until(() => events.length >= 2, "the 2 events before the restart");
      const seen = until(() => events.length >= 3, "3 events");
      subscription.on("tick", (_data, frame) => {
        events.push({ epoch: frame.epoch, offset: frame.offset });
        two.poke();
        seen.poke();
      });
      const failed = until(() => failures.length > 0, "recovery_failed");
      subscription.on("recovery_failed", (context) => {
        failures.push(context);
        failed.poke();
      });
      const connected = waitForState(client, "connected");
      client.connect();
      await connected;
      await deadline(new Promise<void>((resolve) => (subscription.state.status === "subscribed" ? resolve() : subscription.on("subscribed", () => resolve()))), "the subscription");
      for (let n = 1; n <= 2; n++) await hub.herald.publish("user:bob", "tick", { n });
      // Delivered before the restart on every transport (polling picks them up on its next answer).
      await two.done;

      const reconnecting = waitForState(client, "reconnecting");
      await hub.close();
      await reconnecting;
      const restarted = await createHerald({ config: { logLevel: "silent" } });
      await restarted.listen({ port, host: "127.0.0.1" });
      hub = { herald: restarted, url: hub.url, wsUrl: hub.wsUrl, adminHeaders: { authorization: `Bearer ${restarted.adminToken}` }, close: () => restarted.close() };
      cleanups.push(() => restarted.close());

      await failed.done;
      const failure = failures[0]!;
      assert.equal(failure.channel, "user:bob");
      assert.deepEqual(failure.since, { epoch: events[0]!.epoch, offset: 2 });
      assert.notEqual(failure.epoch, failure.since.epoch);
      assert.equal(subscription.state.recovered, false);
      // The new stream starts again at offset 1 in a new epoch: it must not be taken for a duplicate.
      await hub.herald.publish("user:bob", "tick", { n: 1 });
      await seen.done;
      assert.deepEqual(events[2], { epoch: failure.epoch, offset: 1 });
    });
  }
});
