import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryEngine } from "../../src/engine/memory.js";
import { runEngineSuite } from "./engine-suite.js";

runEngineSuite("memory", { create: () => new MemoryEngine(), shared: false, patterns: true });

describe("memory engine: idempotency records are bounded (publish.idempotencyKeys)", () => {
  const KEEP = { historySize: 100, historyTtlMs: 60_000 };
  const key = (name: string) => ({ key: name, ttlMs: 60_000 });

  it("keeps at most the configured number of records, forgetting the oldest first", async () => {
    const engine = new MemoryEngine({ idempotencyKeys: 2 });
    await engine.start({ onEvent: () => {} });
    try {
      const first = await engine.publish("orders", "x", 1, KEEP, key("k1"));
      await engine.publish("orders", "x", 2, KEEP, key("k2"));
      await engine.publish("orders", "x", 3, KEEP, key("k3"));
      assert.equal(await engine.recall("orders", "k1"), undefined, "the oldest record made room");
      assert.notEqual(await engine.recall("orders", "k2"), undefined);
      assert.notEqual(await engine.recall("orders", "k3"), undefined);
      const again = await engine.publish("orders", "x", 1, KEEP, key("k1"));
      assert.deepEqual([again.replayed, again.offset], [false, first.offset + 3], "a forgotten key stores again");
      assert.equal((await engine.publish("orders", "x", 3, KEEP, key("k3"))).replayed, true);
    } finally {
      await engine.close();
    }
  });

  it("records nothing with 0", async () => {
    const engine = new MemoryEngine({ idempotencyKeys: 0 });
    await engine.start({ onEvent: () => {} });
    try {
      await engine.publish("orders", "x", 1, KEEP, key("k1"));
      assert.equal(await engine.recall("orders", "k1"), undefined);
      const again = await engine.publish("orders", "x", 1, KEEP, key("k1"));
      assert.deepEqual([again.replayed, again.offset], [false, 2]);
    } finally {
      await engine.close();
    }
  });
});
