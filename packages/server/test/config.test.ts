import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeraldError, loadConfig } from "@herald/server";

const tempFile = (name: string, text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), "herald-config-")), name);
  writeFileSync(path, text);
  return path;
};

describe("configuration", () => {
  it("has working defaults with no file and no environment", () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.port, 8080);
    assert.equal(config.pingInterval, 25_000);
    assert.equal(config.maxPayload, 64 * 1024);
    assert.equal(config.sendQueueBytes, 1024 * 1024);
    assert.deepEqual(config.history, { size: 100, ttl: 300_000 });
    assert.equal(config.engine.type, "memory");
  });

  it("reads YAML and JSON files; the environment wins over the file, HERALD_PORT over PORT", () => {
    const yaml = tempFile("herald.yaml", "port: 9000\npingInterval: 10s\nhistory:\n  size: 5\n");
    assert.equal(loadConfig({ file: yaml, env: {} }).port, 9000);
    assert.equal(loadConfig({ file: yaml, env: {} }).pingInterval, 10_000);
    assert.equal(loadConfig({ file: yaml, env: { PORT: "7000" } }).port, 7000);
    assert.equal(loadConfig({ file: yaml, env: { PORT: "7000", HERALD_PORT: "7001" } }).port, 7001);
    const json = tempFile("herald.json", JSON.stringify({ maxPayload: "16KiB" }));
    assert.equal(loadConfig({ file: json, env: {} }).maxPayload, 16 * 1024);
  });

  it("parses API keys from HERALD_API_KEYS as key or name=key", () => {
    const config = loadConfig({ env: { HERALD_API_KEYS: "a-key-that-is-long-enough, backend=another-long-enough-key" } });
    assert.deepEqual(config.publish.apiKeys, ["a-key-that-is-long-enough", { name: "backend", key: "another-long-enough-key" }]);
  });

  it("reads a Redis Cluster's seeds and Redis shards, comma-separated from the environment", () => {
    const cluster = loadConfig({ env: { HERALD_ENGINE: "redis", HERALD_REDIS_CLUSTER: "redis://10.0.0.1:7000, redis://10.0.0.2:7000" } });
    assert.deepEqual(cluster.engine.redisCluster, ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]);
    const shards = loadConfig({ file: tempFile("shards.yaml", "engine:\n  type: redis\n  redisShards: [redis://a:6379, redis://b:6379]\n"), env: {} });
    assert.deepEqual(shards.engine.redisShards, ["redis://a:6379", "redis://b:6379"]);
    // An empty REDIS_URL (as a test or a platform may leave it) is not set.
    assert.equal(loadConfig({ env: { REDIS_URL: "", HERALD_ENGINE: "redis", HERALD_REDIS_SHARDS: "redis://a:6379" } }).engine.redisUrl, undefined);
  });

  for (const [what, options, pattern] of [
    ["an unknown key in the file", { file: "pingIntervall: 5s\n" }, /unknown key "pingIntervall"/],
    ["a bad duration from the environment", { env: { HERALD_PING_INTERVAL: "soon" } }, /pingInterval \(from HERALD_PING_INTERVAL\): "soon" is not a duration/],
    ["a port that is not a number", { env: { PORT: "eighty" } }, /port \(from PORT\)/],
    ["an unknown engine", { env: { HERALD_ENGINE: "mongo" } }, /engine\.type \(from HERALD_ENGINE\)/],
    ["a short API key", { env: { HERALD_API_KEYS: "short" } }, /at least 16 characters/],
    ["a route without subscribe", { file: "routes:\n  - path: /x\n" }, /routes\.0\.subscribe/],
    ["YAML that does not parse", { file: "port: [1\n" }, /not valid YAML/],
    ["a Redis URL and a Redis Cluster at once", { env: { HERALD_ENGINE: "redis", REDIS_URL: "redis://a:6379", HERALD_REDIS_CLUSTER: "redis://b:7000" } }, /engine\.redisCluster \(from HERALD_REDIS_CLUSTER\): set one of engine\.redisUrl, engine\.redisCluster and engine\.redisShards/],
    ["Redis shards without the redis engine", { env: { HERALD_REDIS_SHARDS: "redis://a:6379,redis://b:6379" } }, /engine\.redisShards \(from HERALD_REDIS_SHARDS\): is for the redis engine/],
    ["a shard that is not a Redis URL", { env: { HERALD_ENGINE: "redis", HERALD_REDIS_SHARDS: "redis://a:6379,http://b" } }, /engine\.redisShards\.1 \(from HERALD_REDIS_SHARDS\): must start with redis:\/\//],
    ["a cluster seed with a database", { env: { HERALD_ENGINE: "redis", HERALD_REDIS_CLUSTER: "redis://a:7000/2" } }, /a Redis Cluster has only database 0/],
    ["patterns on a Redis Cluster", { file: "engine:\n  type: redis\n  redisCluster: [\"redis://a:7000\"]\n  patterns: true\n" }, /engine\.patterns.*not available with engine\.redisCluster/],
    ["a brace in the key prefix on a cluster", { env: { HERALD_ENGINE: "redis", HERALD_REDIS_CLUSTER: "redis://a:7000", HERALD_REDIS_PREFIX: "{app}:" } }, /engine\.prefix \(from HERALD_REDIS_PREFIX\): must not contain \{ or \}/],
  ] as const) {
    it(`stops with one line naming the problem: ${what}`, () => {
      const file = "file" in options ? tempFile("bad.yaml", options.file) : undefined;
      const env = "env" in options ? options.env : {};
      assert.throws(
        () => loadConfig({ file, env }),
        (error: unknown) => error instanceof HeraldError && error.code === "invalid_config" && pattern.test(error.message) && !error.message.includes("\n"),
      );
    });
  }
});
