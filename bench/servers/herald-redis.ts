/**
 * Herald on the Redis engine, one node, on a Redis server of its own started on a free port (never
 * the machine's shared one). Its stats add the Redis server's CPU time (INFO cpu), so the runner
 * can report Redis CPU per publish beside Herald's own.
 */

import { createHerald } from "@herald/server";
import { Redis } from "ioredis";
import { RedisServer } from "../../packages/server/test/support/redis-server.js";
import { collect, reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";

const redis = await RedisServer.start();
const info = new Redis(redis.url);
const herald = await createHerald({ config: { ...BENCH_CONFIG, engine: { type: "redis", redisUrl: redis.url } } });
await herald.listen({ port: 0, host: "127.0.0.1" });

async function redisCpuMicros(): Promise<number> {
  const text = await info.info("cpu");
  const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? NaN);
  return (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
}

reportToRunner(
  herald.port,
  async () => {
    await herald.close();
    info.disconnect();
    await redis.close();
  },
  async () => ({ ...collect(), redisCpuMicros: await redisCpuMicros() }),
);
