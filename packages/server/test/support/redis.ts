/** Test support for the Redis engine: the Redis URL, a reachability check, key clean-up by prefix. */

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Resolves to a `skip` value for describe(): false when Redis answers. Without Redis the tests
 * are skipped with a loud reason, except in CI (CI=true), where a missing service is a failure.
 */
export async function redisSkip(): Promise<false | string> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return false;
  } catch (error) {
    if (process.env.CI === "true") throw new Error(`no Redis at ${REDIS_URL} (CI=true, so this fails): ${(error as Error).message}`);
    const reason = `skipped: no Redis at ${REDIS_URL}`;
    console.warn(reason);
    return reason;
  } finally {
    probe.disconnect();
  }
}

/** A prefix no other test run uses, so tests can run side by side on one Redis. */
export function uniquePrefix(label: string): string {
  return `herald-test:${label}:${randomBytes(4).toString("hex")}:`;
}

/** Deletes every key under a prefix. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** A TCP proxy in front of the test Redis and the Redis URL through it: its cut() cuts one node off while Redis serves the others. */
export async function redisBehindProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(REDIS_URL);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
  const url = new URL(REDIS_URL);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}
