import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FORMATS, TestClient, getJson, startHerald, type RunningHerald } from "./support/herald.js";
import { RedisServer, redisServerSkip } from "./support/redis-server.js";

describe("heartbeat, deadlines, backpressure and shutdown", () => {
  // Heartbeat and deadlines are the same in both encodings.
  for (const format of FORMATS) {
    it(`pings every pingInterval, and a client that answers stays connected (${format})`, async () => {
      const hub = await startHerald({ pingInterval: 150 });
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await client.subscribe("user:alive");
      for (let i = 0; i < 3; i++) {
        await client.next("ping");
        client.send({ type: "pong" });
      }
      assert.equal(client.closeCode, undefined);
      await client.close();
      await hub.close();
    });

    it(`closes a connection that answers no ping with 4000 (${format})`, async () => {
      const hub = await startHerald({ pingInterval: 150 });
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { autoPong: false, format });
      await client.subscribe("user:silent");
      const closed = await client.closed;
      assert.equal(closed.code, 4000);
      assert.match(closed.reason, /no pong/);
      await hub.close();
    });

    it(`closes a connection that never subscribes or authenticates with 4001 (${format})`, async () => {
      const hub = await startHerald({ idleTimeout: 150 });
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      const closed = await client.closed;
      assert.equal(closed.code, 4001);
      assert.match(closed.reason, /subscribe/);
      await hub.close();
    });
  }

  it("closes a slow consumer with 4008 and counts it, while a fast one keeps receiving everything", async () => {
    await slowConsumerIsClosedWith4008(await startHerald({ sendQueueBytes: "64KiB" }));
  });

  it("closes a slow consumer with 4008 on the redis engine too, with events arriving through Redis", { skip: redisServerSkip() }, async () => {
    const redis = await RedisServer.start();
    try {
      await slowConsumerIsClosedWith4008(await startHerald({ sendQueueBytes: "64KiB", engine: { type: "redis", redisUrl: redis.url } }));
    } finally {
      await redis.close();
    }
  });

  it("while it drains, /readyz answers 503 shutting_down (no new traffic) and /healthz stays 200", { skip: redisServerSkip() }, async () => {
    // A stalled Redis holds a publish in flight, and the drain waits for it: the window a load
    // balancer sees while a node stops.
    const redis = await RedisServer.start();
    const hub = await startHerald({ engine: { type: "redis", redisUrl: redis.url } });
    try {
      assert.equal((await getJson(`${hub.url}/readyz`)).status, 200);
      redis.pause();
      const publishing = hub.herald.publish("user:late", "note", {}).catch(() => "refused");
      const closing = hub.close();
      const ready = await getJson(`${hub.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, "shutting_down");
      const health = await getJson(`${hub.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.body.ready, false);
      redis.resume();
      await publishing;
      await closing;
    } finally {
      redis.resume();
      await hub.close();
      await redis.close();
    }
  });

  for (const format of FORMATS) {
    it(`on shutdown closes clients with 1001 and a reason, and refuses new publishes (${format})`, async () => {
      const hub = await startHerald();
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { format });
      await client.subscribe("user:bye");
      const closing = hub.close();
      const closed = await client.closed;
      assert.equal(closed.code, 1001);
      assert.match(closed.reason, /shutting down/);
      await closing;
      await assert.rejects(hub.herald.publish("user:bye", "late", {}), /shutting down/);
    });
  }
});

/** A slow client (not reading) next to a fast one: the slow one sees 4008 with its reason once it reads again; the fast one gets everything. */
async function slowConsumerIsClosedWith4008(hub: RunningHerald): Promise<void> {
  const fast = await TestClient.open(`${hub.wsUrl}/ws`);
  try {
    const slow = await TestClient.open(`${hub.wsUrl}/ws`);
    await slow.subscribe("topic:firehose");
    await fast.subscribe("topic:firehose");
    // The slow client stops reading from its socket; its server-side queue grows.
    (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const payload = "x".repeat(4096);
    const total = 2_000;
    // The publisher keeps pace with the fast client (10 events, 40 KiB, then wait for them), so the
    // fast one never holds more than its 64 KiB queue however loaded the machine is; the slow one
    // falls behind by the whole stream.
    const received = [];
    for (let n = 1; n <= total; n++) {
      await hub.herald.publish("topic:firehose", "chunk", { n, payload });
      if (n % 10 === 0) received.push(...(await fast.take(10, "chunk", 15_000)));
    }
    assert.equal(received.length, total);
    assert.equal(received[total - 1]!.offset, total);
    const status = (await getJson(`${hub.url}/api/status`)).body;
    assert.equal(status.slowConsumerDisconnects, 1);
    // The client is still not reading. Nothing happens on the server that could be awaited now: the
    // wait lets the server's 2 s grace after a close pass, which used to cut the socket before its
    // close frame was out, so a client that read again later saw its buffered events and then 1006.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await Promise.race([
      slow.closed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the slow client saw no close within 10 s of reading again")), 10_000).unref()),
    ]);
    assert.deepEqual(closed, { code: 4008, reason: "slow consumer: send queue over limit; reconnect and resume with since" });
    // What it read before the close is in order and without gaps, so resuming with `since` loses nothing.
    const offsets = slow.frames.filter((frame) => frame.type === "chunk").map((frame) => frame.offset as number);
    assert.deepEqual(offsets, offsets.map((_, index) => index + 1));
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    assert.match(metrics, /herald_slow_consumer_disconnects_total\{node="[^"]+"\} 1/);
  } finally {
    await fast.close();
    await hub.close();
  }
}
