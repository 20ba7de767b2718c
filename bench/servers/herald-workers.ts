/**
 * `herald serve --workers 2` as a user runs it: the compiled CLI started as a child process (primary and two
 * workers sharing the port, the memory engine held by the primary). CPU and RSS are those of the
 * whole process tree.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../packages/server/test/support/redis-server.js";
import { reportToRunner } from "./child.js";
import { BENCH_CONFIG } from "./herald-config.js";
import { processTreeStats } from "./process-tree.js";

const WORKERS = 2;
const cli = fileURLToPath(new URL("../../packages/server/dist/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "herald-bench-workers-"));
const configFile = join(dir, "herald.json");
writeFileSync(configFile, JSON.stringify(BENCH_CONFIG));
const port = await freePort();

const primary = spawn(process.execPath, [cli, "serve", "--workers", String(WORKERS), "--port", String(port), "--host", "127.0.0.1", "--config", configFile], {
  stdio: ["ignore", "pipe", "pipe"],
});
let output = "";
primary.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
await new Promise<void>((resolve, reject) => {
  primary.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (/Herald ready on /.test(output)) resolve();
  });
  primary.once("exit", (code) => reject(new Error(`herald serve --workers ${WORKERS} exited (${code}) before it was ready:\n${output}`)));
});

reportToRunner(
  port,
  async () => {
    const exited = new Promise((resolve) => primary.once("exit", resolve));
    primary.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  },
  () => processTreeStats(primary.pid!),
);
