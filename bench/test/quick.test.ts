/**
 * The quick benchmark as a test: every scenario runs against every server with small numbers and
 * nothing may be lost. It judges correctness only, never a time (the machine is shared).
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import assert from "node:assert/strict";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("npm run bench -- --quick runs every scenario on every server (with Herald's Pusher endpoint, receipts, deltas, MessagePack, workers, and Redis on 1, 2 and 3 nodes and on a Redis Cluster) and loses nothing", { timeout: 540_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-"));
  try {
    const child = spawn(process.execPath, ["--conditions=herald-source", "--import", "tsx", "bench/run.ts", "--quick", "--results", dir], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    assert.match(output, /quick: every scenario ran and nothing was lost/);

    const file = readdirSync(dir).find((name) => name.endsWith(".json"));
    assert.ok(file, "a results file is written");
    const results = JSON.parse(readFileSync(join(dir, file), "utf8")) as { servers: Record<string, Partial<Record<"fanout" | "latency" | "manyChannels", { delivered: number; lost: number }>> & { storm?: { lost: number } }> };
    assert.deepEqual(Object.keys(results.servers).sort(), ["bare-ws", "herald", "herald-delta", "herald-msgpack", "herald-pusher", "herald-receipts", "herald-redis", "herald-redis-2", "herald-redis-3", "herald-redis-cluster", "herald-workers", "socketio"]);
    for (const [kind, figures] of Object.entries(results.servers)) {
      if (kind === "herald-delta") continue;
      assert.ok((figures.fanout?.delivered ?? 0) > 0, `${kind} delivered events`);
      assert.equal(figures.fanout?.lost, 0, `${kind} lost nothing in the fan-out`);
    }
    assert.equal(results.servers.herald?.storm?.lost, 0, "Herald recovered every event after the reconnect storm");
    const markdown = readFileSync(join(dir, "latest.md"), "utf8");
    assert.match(markdown, /\| scenario \| Herald \| bare ws \| Socket\.IO \|/);
    assert.match(markdown, /\| \(b\) fan-out: Redis CPU per publish \(µs\) \| n\/a \| n\/a \| -?[\d,]+ \|/, "Redis CPU per publish is measured for the Redis node");
    // (g): every Redis variant delivered, lost nothing in (b), (c) and (d), and its Redis CPU was read (all three masters for the cluster; a short quick window may read below the idle rate, so the sign is not checked).
    assert.match(markdown, /\| scenario \| memory, 1 node \| Redis, 1 node \| Redis, 2 nodes \| Redis, 3 nodes \| Redis Cluster \(3 masters\), 3 nodes \|/);
    assert.match(markdown, /\| \(b\) fan-out 200 subscribers: deliveries\/s \| [\d,]+ \|( [\d,]+ \([\d.]+×\) \|){4}$/m);
    assert.match(markdown, /\| \(b\) fan-out: Redis CPU per publish \(µs, all Redis processes\) \| n\/a \|( -?[\d,]+ \|){4}$/m);
    assert.match(markdown, /\| \(d\) many channels: Redis CPU per publish \(µs\) \| n\/a \|( -?[\d,.]+ \|){4}$/m);
    assert.match(markdown, /\| Redis idle CPU, subtracted from the Redis figures \(cores\) \| n\/a \|( [\d.]+ \|){4}$/m);
    assert.match(markdown, /\| lost \(b, c, d\) \| 0 \| 0 \| 0 \| 0 \| 0 \|/);
    for (const variant of ["herald-redis", "herald-redis-2", "herald-redis-3", "herald-redis-cluster"]) {
      const figures = results.servers[variant];
      assert.ok((figures?.latency?.delivered ?? 0) > 0 && figures?.latency?.lost === 0, `${variant} delivered every latency event`);
      assert.ok((figures?.manyChannels?.delivered ?? 0) > 0 && figures?.manyChannels?.lost === 0, `${variant} delivered every many-channels event`);
    }
    assert.match(markdown, /\| 200 Pusher subscribers \| [\d,]+ \|/, "the Pusher endpoint's fan-out is reported");
    assert.match(markdown, /\| 200 acknowledging subscribers \| [\d,]+ \|/, "the fan-out with receipts on is reported");
    assert.match(markdown, /\| delta on \(`delta: "fossil"`\) \| [\d,]+ \| [\d,.]+ \| 0 \| 0 \|/, "the delta scenario reports bytes and CPU per delivery with delta on");
    assert.match(markdown, /\| on \/ off \| [\d.]+× \([\d.]+× fewer bytes/, "and the ratio against delta off");
    assert.match(markdown, /\| 200 JSON subscribers \| [\d,]+ \| [\d.,]+ \|/, "bytes per delivery are measured for JSON subscribers");
    assert.match(markdown, /\| 200 MessagePack subscribers \| [\d,]+ \| [\d.,]+ \|/, "and for MessagePack subscribers");
    assert.match(markdown, /\| MessagePack \/ JSON \| [\d.]+× \| 0\.\d+× \|/, "MessagePack sends fewer bytes per delivery");
    assert.match(readFileSync(join(dir, "latest.svg"), "utf8"), /^<svg /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
