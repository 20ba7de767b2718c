#!/usr/bin/env node
// Runs every *.test.ts under packages/, examples/ and bench/ with Node's test runner, loading the
// TypeScript sources directly (tsx, with the "herald-source" export condition) so no build is needed.
// Pass paths or name fragments to run a subset: `npm test -- recovery`.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const roots = ["packages", "examples", "bench"].map((dir) => join(root, dir));

function find(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry === "node_modules" || entry === "dist" || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) find(path, out);
    else if (entry.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
let files = roots.flatMap((dir) => find(dir, [])).sort();
if (filters.length > 0) files = files.filter((file) => filters.some((filter) => relative(root, file).includes(filter)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "(all)"}`);
  process.exit(1);
}

// scripts/test-limits.mjs gives every test and hook a default time limit (HERALD_TEST_TIMEOUT_MS, 120 s).
const limits = join(root, "scripts", "test-limits.mjs");
const args = ["--conditions=herald-source", "--import", "tsx", "--import", limits, "--test", "--test-force-exit", "--test-reporter=spec", ...files.map((file) => relative(root, file))];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
