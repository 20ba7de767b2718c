#!/usr/bin/env node
// The `herald` command. Installed from npm it runs the compiled CLI (dist/). In a clone of the
// repository, right after `npm ci` and before any build, it runs the TypeScript sources with tsx,
// so `npx herald …` works as the docs write it without a build step (and never runs a stale build).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const compiled = new URL("../dist/cli.js", import.meta.url);

function tsxLoader() {
  try {
    return createRequire(import.meta.url).resolve("tsx");
  } catch {
    return undefined;
  }
}

const tsx = existsSync(source) ? tsxLoader() : undefined;
if (tsx === undefined) {
  await import(compiled.href);
} else {
  const child = spawn(process.execPath, ["--conditions=herald-source", "--import", "tsx", source, ...process.argv.slice(2)], { stdio: "inherit" });
  // Signals go to the whole foreground group already; forward the ones a supervisor sends alone.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)));
}
