/**
 * The engine contract on a real 3-master Redis Cluster of this test's own (support/redis-cluster.ts),
 * and what the cluster adds: channels spread over the masters, each channel whole on one of them,
 * a master killed mid-stream refusing only its own channels until it is back, and, on a second
 * cluster with a replica per master, until the replica promoted in its place serves them.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { RedisEngine } from "../../src/engine/redis.js";
import { hashSlot } from "../../src/engine/redis-slot.js";
import type { StreamEvent } from "../../src/engine/engine.js";
import { RedisCluster, redisClusterSkip } from "../support/redis-cluster.js";
import { runEngineSuite } from "./engine-suite.js";
import { OutageLedger, untilUnreachable } from "./outage-ledger.js";

const skip = redisClusterSkip();
const cluster = skip ? undefined : await RedisCluster.start();
const prefix = "herald-test:";
const KEEP = { historySize: 100, historyTtlMs: 60_000 };

runEngineSuite("redis cluster", {
  create: () => new RedisEngine({ cluster: cluster!.seeds, prefix, commandTimeoutMs: 2_000 }),
  shared: true,
  skip,
});

describe("redis engine on a Redis Cluster", { skip }, () => {
  const engines: RedisEngine[] = [];
  const start = async (received?: StreamEvent[]): Promise<RedisEngine> => {
    const engine = new RedisEngine({ cluster: cluster!.seeds, prefix, commandTimeoutMs: 2_000 });
    await engine.start({ onEvent: (event) => received?.push(event) });
    engines.push(engine);
    return engine;
  };
  /** Channel names whose slots are held by each master, `perMaster` of each. */
  const channelsByMaster = async (perMaster: number): Promise<Map<number, string[]>> => {
    const byPort = new Map<number, string[]>();
    while ([...byPort.values()].filter((names) => names.length >= perMaster).length < 3) {
      const name = `spread:${randomBytes(4).toString("hex")}`;
      const { port } = await cluster!.masterOf(`${prefix}{${name}}:meta`);
      const names = byPort.get(port) ?? [];
      if (names.length < perMaster) names.push(name);
      byPort.set(port, names);
    }
    return byPort;
  };

  after(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
    await cluster?.close();
  });

  it("computes each key's slot as the cluster does", async () => {
    const redis = new Redis(cluster!.seeds[0]!);
    try {
      for (const key of [`${prefix}{orders:1}:meta`, `${prefix}{chat:room-7}:events`, "plain-key", "a{b}c"]) {
        assert.equal(hashSlot(key), await redis.call("CLUSTER", "KEYSLOT", key), key);
      }
    } finally {
      redis.disconnect();
    }
  });

  it("keeps every key of a channel on its slot's master, and channels on every master", async () => {
    const engine = await start();
    const byMaster = await channelsByMaster(1);
    for (const [port, [name]] of byMaster) {
      await engine.publish(name!, "n", 1, KEEP, { key: "k", ttlMs: 60_000 });
      await engine.addPresence(name!, { connectionId: "c1", transport: "websocket", node: "n", connectedAt: new Date().toISOString() });
      const master = new Redis(`redis://127.0.0.1:${port}`);
      try {
        const keys = (await master.keys(`${prefix}{${name}}:*`)).map((key) => key.slice(`${prefix}{${name}}:`.length).replace(/^idem:.*/, "idem")).sort();
        assert.deepEqual(keys, ["idem", "meta", "presence", "presence-expiry", "stream"], `${name} on ${port}`);
      } finally {
        master.disconnect();
      }
    }
    assert.equal(engine.status().details?.pubsub, "sharded");
    assert.equal((engine.status().details?.masters as string[]).length, 3);
  });

  it("refuses only the killed master's channels until it is back, and loses nothing it accepted", { timeout: 60_000 }, async () => {
    const received: StreamEvent[] = [];
    const [subscriber, publisher] = [await start(received), await start()];
    const byMaster = await channelsByMaster(2);
    const ledger = new OutageLedger([...byMaster.values()].flat());
    await Promise.all(ledger.channels.map((name) => subscriber.subscribe(name)));
    for (let round = 0; round < 3; round++) await ledger.publishAll(publisher);
    const [victimPort, victimChannels] = [...byMaster][0]!;
    const victim = cluster!.servers.find((server) => server.port === victimPort)!;
    await victim.stop("SIGKILL");
    await untilUnreachable(publisher, true);
    for (let round = 0; round < 3; round++) await ledger.publishAll(publisher);
    assert.deepEqual([...ledger.refused.keys()].sort(), [...victimChannels].sort(), "only the dead master's channels were refused");
    assert.ok([...ledger.refused.values()].flat().every((code) => code === "engine_unavailable"), JSON.stringify([...ledger.refused]));
    assert.equal(publisher.status().available, true, "the other masters still serve, so the engine stays available");
    assert.deepEqual(publisher.status().details?.unreachable, [`127.0.0.1:${victimPort}`]);
    await victim.restart();
    await cluster!.settled();
    await ledger.publishUntilAccepted(publisher, victimChannels);
    await ledger.publishAll(publisher);
    await ledger.verify(received);
  });
});

describe("redis engine on a Redis Cluster with a replica per master", { skip }, () => {
  let replicated: RedisCluster | undefined;
  const engines: RedisEngine[] = [];
  before(async () => {
    replicated = await RedisCluster.start({ replicas: 1 });
  });
  after(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
    await replicated?.close();
  });

  it("follows a failover: the promoted replica serves the killed master's channels, 503 meanwhile, nothing replicated lost", { timeout: 90_000 }, async () => {
    const received: StreamEvent[] = [];
    const subscriber = new RedisEngine({ cluster: replicated!.seeds, prefix, commandTimeoutMs: 2_000 });
    const publisher = new RedisEngine({ cluster: replicated!.seeds, prefix, commandTimeoutMs: 2_000 });
    engines.push(subscriber, publisher);
    await subscriber.start({ onEvent: (event) => received.push(event) });
    await publisher.start({ onEvent: () => undefined });
    const [victim] = await replicated!.masters();
    const [onVictim, elsewhere]: [string[], string[]] = [[], []];
    while (onVictim.length < 2 || elsewhere.length < 2) {
      const name = `failover:${randomBytes(4).toString("hex")}`;
      const list = (await replicated!.masterOf(`${prefix}{${name}}:meta`)) === victim ? onVictim : elsewhere;
      if (list.length < 2) list.push(name);
    }
    const ledger = new OutageLedger([...onVictim, ...elsewhere]);
    await Promise.all(ledger.channels.map((name) => subscriber.subscribe(name)));
    for (let round = 0; round < 3; round++) await ledger.publishAll(publisher);
    // Replication is asynchronous: only what reached the replica survives the failover.
    await replicated!.replicated();
    await victim!.stop("SIGKILL");
    await untilUnreachable(publisher, true);
    const deadline = Date.now() + 30_000;
    while (!onVictim.every((name) => ledger.accepted.get(name)!.length > 3)) {
      if (Date.now() > deadline) throw new Error(`no failover within 30 s: ${JSON.stringify([...ledger.refused])}`);
      await ledger.publishAll(publisher);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual([...ledger.refused.keys()].sort(), [...onVictim].sort(), "only the dead master's channels were refused");
    assert.ok([...ledger.refused.values()].flat().every((code) => code === "engine_unavailable"), JSON.stringify([...ledger.refused]));
    assert.notEqual(await replicated!.masterOf(`${prefix}{${onVictim[0]}}:meta`), victim, "a replica holds the slots now");
    await ledger.publishAll(publisher);
    await ledger.verify(received);
    await untilUnreachable(subscriber, false);
  });
});
