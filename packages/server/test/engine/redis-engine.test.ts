import { RedisEngine } from "../../src/engine/redis.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { runEngineSuite } from "./engine-suite.js";

const prefix = uniquePrefix("engine");
const classicPrefix = uniquePrefix("engine-classic");
const skip = await redisSkip();

runEngineSuite("redis", {
  create: () => new RedisEngine({ url: REDIS_URL, prefix }),
  shared: true,
  skip,
  cleanup: () => deleteKeys(prefix),
});

// Channel and control topics use plain PUBLISH/SUBSCRIBE where Redis has no sharded pub/sub (before 7).
// Patterns imply classic pub/sub: this run checks both, the index of recent channels included.
runEngineSuite("redis, classic pub/sub with patterns", {
  create: () => new RedisEngine({ url: REDIS_URL, prefix: classicPrefix, disableShardedPubSub: true, patterns: true }),
  patterns: true,
  shared: true,
  skip,
  cleanup: () => deleteKeys(classicPrefix),
});
