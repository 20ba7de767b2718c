/**
 * The engine setting: memory (one process) or Redis, and for Redis where it is: one server
 * (`redisUrl`), a Redis Cluster (`redisCluster`, seed URLs) or independent shards (`redisShards`,
 * each channel on one of them by consistent hashing). See docs/scaling.md.
 */

import { z } from "zod";
import { duration } from "./units.js";

const LAYOUTS = ["redisUrl", "redisCluster", "redisShards"] as const;

/** Why a Redis URL cannot be used, or undefined when it can. */
function badRedisUrl(text: string, clusterSeed: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL; write e.g. redis://10.0.0.5:6379";
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") return "must start with redis:// or rediss://";
  if (clusterSeed && url.pathname !== "" && url.pathname !== "/" && url.pathname !== "/0") return "names a database; a Redis Cluster has only database 0";
  return undefined;
}

export const engineSchema = z
  .strictObject({
    type: z.enum(["memory", "redis"]).default("memory"),
    redisUrl: z.string().optional(),
    /** Seed URLs of a Redis Cluster: any of its nodes, the rest are discovered. */
    redisCluster: z.array(z.string()).min(1).optional(),
    /** Independent Redis servers; each channel lives on one of them. Their order matters (docs/scaling.md). */
    redisShards: z.array(z.string()).min(1).optional(),
    /** Prefix of every Redis key and pub/sub channel, so several Heralds can share one Redis. */
    prefix: z.string().default("herald:"),
    /** How long a node's presence entries and counted connections outlive it when it stops without a word (redis). Default 60s. */
    presenceTtl: duration("60s"),
    /**
     * Let clients subscribe to patterns (redis): channel events then go out with classic PUBLISH,
     * which PSUBSCRIBE sees, instead of sharded SPUBLISH. Not on a Redis Cluster.
     */
    patterns: z.boolean().default(false),
  })
  .superRefine((engine, context) => {
    const set = LAYOUTS.filter((key) => engine[key] !== undefined);
    if (set.length > 1) {
      context.addIssue({ code: "custom", path: [set[1]!], message: `set one of engine.redisUrl, engine.redisCluster and engine.redisShards; ${set.map((key) => `engine.${key}`).join(" and ")} are both set` });
    }
    for (const key of ["redisCluster", "redisShards"] as const) {
      const urls = engine[key];
      if (urls === undefined) continue;
      if (engine.type !== "redis") context.addIssue({ code: "custom", path: [key], message: "is for the redis engine; set engine.type: redis (HERALD_ENGINE=redis)" });
      urls.forEach((url, index) => {
        const problem = badRedisUrl(url, key === "redisCluster");
        if (problem) context.addIssue({ code: "custom", path: [key, index], message: problem });
      });
    }
    if (engine.redisShards && new Set(engine.redisShards).size !== engine.redisShards.length) {
      context.addIssue({ code: "custom", path: ["redisShards"], message: "lists one Redis twice" });
    }
    if (engine.patterns && engine.redisCluster) {
      context.addIssue({ code: "custom", path: ["patterns"], message: "pattern subscriptions need classic pub/sub, which a Redis Cluster sends to every node; not available with engine.redisCluster" });
    }
    if (engine.redisCluster && /[{}]/.test(engine.prefix)) {
      context.addIssue({ code: "custom", path: ["prefix"], message: "must not contain { or } on a Redis Cluster: a brace in it would become every key's hash tag and put every channel in one slot" });
    }
  })
  .prefault({});
