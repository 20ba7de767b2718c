/**
 * Three Herald nodes on two Redis shards of this test's own (each channel on one by consistent
 * hashing), each node behind proxies of its own. The shards keep an append-only file, so a shard
 * killed and started again comes back with what it acknowledged.
 */

import { shardIndex } from "../src/engine/redis-shard-index.js";
import { RedisServer, redisServerSkip } from "./support/redis-server.js";
import { runThreeNodeSuite } from "./three-nodes-suite.js";

const shards: RedisServer[] = [];

runThreeNodeSuite({
  name: "two Redis shards",
  skip: redisServerSkip(),
  proxied: true,
  start: async () => {
    for (let i = 0; i < 2; i++) shards.push(await RedisServer.start({ persistence: "aof" }));
    return shards.map((shard) => ({ host: "127.0.0.1", port: shard.port }));
  },
  // The nodes' lists name their proxies, in the shards' order: placement depends on the order alone.
  env: (addresses, prefix) => ({ HERALD_REDIS_SHARDS: addresses.map(({ host, port }) => `redis://${host}:${port}`).join(","), HERALD_REDIS_PREFIX: prefix }),
  serverOf: async (channel) => shardIndex(channel, shards.length),
  kill: (server) => shards[server]!.stop("SIGKILL"),
  restart: (server) => shards[server]!.restart(),
  close: async () => {
    await Promise.all(shards.map((shard) => shard.close()));
  },
});
