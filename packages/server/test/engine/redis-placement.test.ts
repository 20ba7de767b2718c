/**
 * Where the Redis engine puts a channel: the Redis Cluster slot of a key (checked against Redis'
 * own answers in redis-cluster-engine.test.ts too) and the shard of a channel among independent
 * Redis servers.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hashSlot } from "../../src/engine/redis-slot.js";
import { shardIndex } from "../../src/engine/redis-shard-index.js";

describe("Redis Cluster hash slots", () => {
  it("computes the slots Redis computes, hash tags included", () => {
    // Answers of CLUSTER KEYSLOT on Redis 7.
    const slots: Record<string, number> = {
      "123456789": 12739,
      foo: 12182,
      somekey: 11058,
      "{user1000}.following": 3443,
      "foo{}{bar}": 8363,
      "foo{{bar}}zap": 4015,
      "foo{bar}{zap}": 5061,
      "héllo{ü}": 9552,
    };
    for (const [key, slot] of Object.entries(slots)) assert.equal(hashSlot(key), slot, key);
  });

  it("puts every key of one channel in one slot", () => {
    const keys = ["meta", "stream", "idem:abc", "presence", "presence-expiry", "events"].map((suffix) => `herald:{chat:room-1}:${suffix}`);
    assert.equal(new Set(keys.map(hashSlot)).size, 1);
  });
});

describe("shards by consistent hashing", () => {
  const names = Array.from({ length: 20_000 }, (_, i) => `chat:room-${i}`);

  it("places a channel on the same shard every time, and everything on shard 0 with one shard", () => {
    assert.equal(shardIndex("chat:room-1", 5), shardIndex("chat:room-1", 5));
    assert.ok(names.every((name) => shardIndex(name, 1) === 0));
  });

  it("spreads channels evenly", () => {
    const counts = [0, 0, 0, 0, 0];
    for (const name of names) counts[shardIndex(name, 5)]! += 1;
    for (const count of counts) assert.ok(Math.abs(count - names.length / 5) < names.length * 0.02, `${counts}`);
  });

  it("moves only about 1/(n+1) of the channels when a shard is appended, each to the new shard", () => {
    const moved = names.filter((name) => shardIndex(name, 4) !== shardIndex(name, 5));
    assert.ok(moved.every((name) => shardIndex(name, 5) === 4), "a channel that moves goes to the new shard");
    assert.ok(Math.abs(moved.length - names.length / 5) < names.length * 0.02, `${moved.length} of ${names.length} moved`);
  });

  it("places channels as Centrifugo does (jump hash of FNV-1a 64)", () => {
    // Computed by a separate implementation of the published algorithms (FNV-1a 64, then jump hash).
    assert.equal(shardIndex("a", 1000), 163);
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => shardIndex(`chat:room-${i}`, 7)),
      [5, 0, 3, 3, 6, 2, 2, 5, 1, 1],
    );
  });
});
