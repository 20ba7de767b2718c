/**
 * The WebSocket fan-out path writes pre-built frames straight to the socket and coalesces a turn's
 * writes per socket. What a client sees must not change: one JSON object per frame, in offset
 * order, after `subscribed`; a client that stops reading is still cut loose at `sendQueueBytes`.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCodes } from "@herald/protocol";
import { TestClient, postJson, startHerald, type RunningHerald } from "./support/herald.js";

describe("WebSocket fan-out", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ sendQueueBytes: "64KiB", maxPayload: "1MiB", publish: { maxBodyBytes: "4MiB" } });
  });
  after(() => hub.close());

  it("delivers a batch published in one request as one frame per event, in offset order, to every subscriber", async () => {
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(`${hub.wsUrl}/ws`)));
    for (const client of clients) await client.subscribe("feed:batch");
    const events = Array.from({ length: 50 }, (_, i) => ({ channel: "feed:batch", type: "item", data: { i, text: "x".repeat(i * 10) } }));
    const published = await postJson(`${hub.url}/api/publish`, { events });
    assert.equal(published.status, 200);
    for (const client of clients) {
      const received = await client.take(50, "item");
      assert.deepEqual(received.map((frame) => frame.offset), events.map((_, i) => i + 1));
      assert.deepEqual(received.map((frame) => (frame.data as { i: number }).i), events.map((_, i) => i));
      await client.close();
    }
  });

  it("frames events of every payload size (7-bit, 16-bit and 64-bit WebSocket lengths)", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    await client.subscribe("feed:sizes");
    const sizes = [0, 100, 125, 126, 1_000, 65_535, 70_000];
    for (const size of sizes) await postJson(`${hub.url}/api/publish`, { channel: "feed:sizes", type: "blob", data: "y".repeat(size) });
    const received = await client.take(sizes.length, "blob");
    assert.deepEqual(received.map((frame) => (frame.data as string).length), sizes);
    await client.close();
  });

  it("closes a client that stops reading once its send queue passes sendQueueBytes, with 4008", async () => {
    const slow = await TestClient.open(`${hub.wsUrl}/ws`);
    await slow.subscribe("feed:flood");
    slow.socket.pause();
    const chunk = "z".repeat(200_000);
    // The kernel's socket buffers absorb the first megabytes; publish until the server gives up on the client.
    for (let i = 0; i < 400; i++) {
      await postJson(`${hub.url}/api/publish`, { channel: "feed:flood", type: "chunk", data: chunk });
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      if (/herald_slow_consumer_disconnects_total(\{[^}]*\})? [1-9]/.test(metrics)) break;
    }
    slow.socket.resume();
    const { code } = await slow.closed;
    assert.equal(code, CloseCodes.slow_consumer.code);
  });
});
