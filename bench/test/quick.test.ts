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

test("npm run bench -- --quick runs every scenario on every server (with Herald's Pusher endpoint, receipts, MessagePack, workers and Redis) and loses nothing", { timeout: 300_000 }, async () => {
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
    const results = JSON.parse(readFileSync(join(dir, file), "utf8")) as { servers: Record<string, { fanout?: { delivered: number; lost: number }; storm?: { lost: number } }> };
    assert.deepEqual(Object.keys(results.servers).sort(), ["bare-ws", "herald", "herald-msgpack", "herald-pusher", "herald-receipts", "herald-redis", "herald-workers", "socketio"]);
    for (const [kind, figures] of Object.entries(results.servers)) {
      assert.ok((figures.fanout?.delivered ?? 0) > 0, `${kind} delivered events`);
      assert.equal(figures.fanout?.lost, 0, `${kind} lost nothing in the fan-out`);
    }
    assert.equal(results.servers.herald?.storm?.lost, 0, "Herald recovered every event after the reconnect storm");
    const markdown = readFileSync(join(dir, "latest.md"), "utf8");
    assert.match(markdown, /\| scenario \| Herald \| bare ws \| Socket\.IO \|/);
    assert.match(markdown, /\| \(b\) fan-out: Redis CPU per publish \(µs\) \| n\/a \| n\/a \| \d+ \|/, "Redis CPU per publish is measured for the Redis node");
    assert.match(markdown, /\| 200 Pusher subscribers \| [\d,]+ \|/, "the Pusher endpoint's fan-out is reported");
    assert.match(markdown, /\| 200 acknowledging subscribers \| [\d,]+ \|/, "the fan-out with receipts on is reported");
    assert.match(markdown, /\| 200 JSON subscribers \| [\d,]+ \| [\d.,]+ \|/, "bytes per delivery are measured for JSON subscribers");
    assert.match(markdown, /\| 200 MessagePack subscribers \| [\d,]+ \| [\d.,]+ \|/, "and for MessagePack subscribers");
    assert.match(markdown, /\| MessagePack \/ JSON \| [\d.]+× \| 0\.\d+× \|/, "MessagePack sends fewer bytes per delivery");
    assert.match(readFileSync(join(dir, "latest.svg"), "utf8"), /^<svg /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
