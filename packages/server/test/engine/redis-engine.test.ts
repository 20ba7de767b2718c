import { RedisEngine } from "../../src/engine/redis.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { runEngineSuite } from "./engine-suite.js";

const prefix = uniquePrefix("engine");

runEngineSuite("redis", {
  create: () => new RedisEngine({ url: REDIS_URL, prefix }),
  shared: true,
  skip: await redisSkip(),
  cleanup: () => deleteKeys(prefix),
});
