import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FORMATS, TestClient, startHerald, type Frame, type RunningHerald } from "./support/herald.js";

function assertContiguous(events: Frame[], from: number, to: number): void {
  assert.equal(events.length, to - from + 1, `expected ${to - from + 1} events, got ${events.length}`);
  events.forEach((event, index) => assert.equal(event.offset, from + index, `event ${index} has offset ${event.offset}, expected ${from + index}`));
}

// Recovery is the same in both encodings (docs/protocol.md, "Binary encoding").
for (const format of FORMATS) {
  describe(`recovery with since (${format})`, () => {
    let hub: RunningHerald;
    before(async () => {
      hub = await startHerald({ namespaces: { big: { history: { size: 20_000, ttl: "10m" } }, tiny: { history: { size: 5 } } } });
    });
    after(() => hub.close());

    it("a subscriber that comes back gets every missed event once, in order, then live events", async () => {
      const first = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const subscribed = await first.subscribe("user:carol");
      await hub.herald.publish("user:carol", "step", { n: 1 });
      const seen = await first.next("step");
      await first.close();
      for (let n = 2; n <= 6; n++) await hub.herald.publish("user:carol", "step", { n });

      const again = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const resumed = await again.subscribe("user:carol", { since: { epoch: subscribed.epoch, offset: seen.offset } });
      assert.equal(resumed.recovered, true);
      assert.equal(resumed.offset, 6);
      const missed = await again.take(5, "step");
      assertContiguous(missed, 2, 6);
      await hub.herald.publish("user:carol", "step", { n: 7 });
      assert.equal((await again.next("step")).offset, 7);
      await again.close();
    });

    it("outside the history window the answer is recovered: false and the current position, with no stale events", async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const subscribed = await client.subscribe("tiny:feed");
      await client.close();
      for (let n = 1; n <= 10; n++) await hub.herald.publish("tiny:feed", "tick", { n });
      const again = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const resumed = await again.subscribe("tiny:feed", { since: { epoch: subscribed.epoch, offset: 0 } });
      assert.equal(resumed.recovered, false);
      assert.equal(resumed.offset, 10);
      await hub.herald.publish("tiny:feed", "tick", { n: 11 });
      assert.equal((await again.next("tick")).offset, 11);
      assert.equal(again.frames.filter((f) => f.type === "tick").length, 1);
      await again.close();
    });

    it("recovers 10,000 missed events in order, without duplicates, while live publishing continues", async () => {
      const channel = "big:stream";
      const first = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const subscribed = await first.subscribe(channel);
      await first.close();
      for (let n = 1; n <= 10_000; n++) await hub.herald.publish(channel, "tick", { n });

      const again = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      again.send({ type: "subscribe", channel, since: { epoch: subscribed.epoch, offset: 0 } });
      // Keep publishing while the recovery is being sent.
      let live = 0;
      const publisher = (async () => {
        for (; live < 500; ) {
          live += 1;
          await hub.herald.publish(channel, "tick", { n: 10_000 + live });
          if (live % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const resumed = await again.next("subscribed");
      assert.equal(resumed.recovered, true);
      await publisher;
      const events = await again.take(10_500, "tick", 60_000);
      assertContiguous(events, 1, 10_500);
      assert.deepEqual(events.map((e) => (e.data as { n: number }).n), events.map((_, i) => i + 1));
      await again.close();
    });
  });
}
