/**
 * The engine contract on two independent Redis servers of this test's own, with channels spread
 * over them by consistent hashing; and what sharding adds: each channel whole on its shard, and a
 * shard that is away refusing only its own channels.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { RedisEngine } from "../../src/engine/redis.js";
import { shardIndex } from "../../src/engine/redis-shard-index.js";
import type { StreamEvent } from "../../src/engine/engine.js";
import { RedisServer, redisServerSkip } from "../support/redis-server.js";
import { runEngineSuite } from "./engine-suite.js";
import { OutageLedger, untilUnreachable } from "./outage-ledger.js";

const skip = redisServerSkip();
// AOF, so a shard killed and started again comes back with what it acknowledged.
const shards = skip ? [] : [await RedisServer.start({ persistence: "aof" }), await RedisServer.start({ persistence: "aof" })];
const prefix = "herald-test:";
const KEEP = { historySize: 100, historyTtlMs: 60_000 };
const create = (): RedisEngine => new RedisEngine({ shards: shards.map((shard) => shard.url), prefix, commandTimeoutMs: 2_000 });

runEngineSuite("redis shards", { create, shared: true, skip });

describe("redis engine on two shards", { skip }, () => {
  const engines: RedisEngine[] = [];
  const start = async (received?: StreamEvent[]): Promise<RedisEngine> => {
    const engine = create();
    await engine.start({ onEvent: (event) => received?.push(event) });
    engines.push(engine);
    return engine;
  };
  const names = (count: number): string[] => Array.from({ length: count }, () => `spread:${randomBytes(4).toString("hex")}`);

  after(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
    await Promise.all(shards.map((shard) => shard.close()));
  });

  it("keeps every key of a channel on its shard, and channels on both", async () => {
    const engine = await start();
    const channels = names(20);
    for (const name of channels) {
      await engine.publish(name, "n", 1, KEEP, { key: "k", ttlMs: 60_000 });
      await engine.addPresence(name, { connectionId: "c1", transport: "sse", node: "n", connectedAt: new Date().toISOString() });
    }
    const clients = shards.map((shard) => new Redis(shard.url));
    try {
      for (const name of channels) {
        const home = shardIndex(name, 2);
        const found = await Promise.all(clients.map((client) => client.keys(`${prefix}{${name}}:*`)));
        assert.equal(found[home]!.length, 5, `${name}: meta, stream, idempotency record and presence on shard ${home}`);
        assert.deepEqual(found[1 - home], [], `${name}: nothing on the other shard`);
      }
    } finally {
      clients.forEach((client) => client.disconnect());
    }
    assert.deepEqual(new Set(channels.map((name) => shardIndex(name, 2))), new Set([0, 1]));
    assert.deepEqual(engine.status().details?.shards, shards.map((shard) => shard.url));
  });

  it("keeps an index of recent channels on each shard, and lists a pattern's channels from both", async () => {
    const engine = new RedisEngine({ shards: shards.map((shard) => shard.url), prefix, commandTimeoutMs: 2_000, patterns: true });
    engines.push(engine);
    await engine.start({ onEvent: () => undefined });
    const channels = names(8);
    assert.equal(new Set(channels.map((channel) => shardIndex(channel, 2))).size, 2, "the channels spread over both shards");
    const first = await Promise.all(channels.map((channel) => engine.publish(channel, "t", 1, KEEP)));
    assert.deepEqual((await engine.channelsPublishedSince("spread:*", Math.min(...first.map((event) => event.time)))).sort(), [...channels].sort());
    // Each shard's index holds its own channels only.
    for (const [index, shard] of shards.entries()) {
      const redis = new Redis(shard.url);
      try {
        const kept = await redis.zrange(`${prefix}{spread}:recent`, "0", "-1");
        assert.deepEqual(kept.filter((channel) => channels.includes(channel)).sort(), channels.filter((channel) => shardIndex(channel, 2) === index).sort());
      } finally {
        redis.disconnect();
      }
    }
  });

  it("refuses only a dead shard's channels until it is back, and loses nothing it accepted", { timeout: 60_000 }, async () => {
    const received: StreamEvent[] = [];
    const [subscriber, publisher] = [await start(received), await start()];
    const ledger = new OutageLedger(names(8));
    await Promise.all(ledger.channels.map((name) => subscriber.subscribe(name)));
    await ledger.publishAll(publisher);
    await shards[1]!.stop("SIGKILL");
    // Once this node has seen the shard go (a publish already on its way would be 504, outcome unknown).
    await untilUnreachable(publisher, true);
    await ledger.publishAll(publisher);
    const onDead = ledger.channels.filter((name) => shardIndex(name, 2) === 1);
    assert.deepEqual([...ledger.refused.keys()].sort(), [...onDead].sort(), "only the dead shard's channels were refused");
    assert.ok([...ledger.refused.values()].flat().every((code) => code === "engine_unavailable"), JSON.stringify([...ledger.refused]));
    assert.equal(publisher.status().available, true, "the other shard still serves, so the engine stays available");
    assert.deepEqual(publisher.status().details?.unreachable, [shards[1]!.url]);
    await shards[1]!.restart();
    await ledger.publishUntilAccepted(publisher, onDead);
    await ledger.publishAll(publisher);
    await ledger.verify(received);
  });
});
