#!/usr/bin/env node
// The `herald` command. Installed from npm it runs the compiled CLI (dist/). In a clone of the
// repository, right after `npm ci` and before any build, it runs the TypeScript sources with tsx,
// so `npx herald …` works as the docs write it without a build step (and never runs a stale build).
//
// The sources run in this same process (tsx's loader registered here, with the "herald-source"
// export condition that points @herald/* packages at their sources), not in a child: a child would
// get Ctrl-C from the terminal and again from a parent forwarding it, and Herald reads a second
// signal as "stop now, skip the drain". Workers of `--workers N` are forked from this file too.
import { existsSync } from "node:fs";
import { register } from "node:module";

const source = new URL("../src/cli.ts", import.meta.url);
const compiled = new URL("../dist/cli.js", import.meta.url);

/** tsx's API when this is a clone with its dev dependencies installed, else undefined. */
async function tsxApi() {
  if (!existsSync(source)) return undefined;
  try {
    return await import("tsx/esm/api");
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

const tsx = await tsxApi();
if (tsx === undefined) {
  await import(compiled.href);
} else {
  tsx.register();
  // Registered after tsx, so it runs first and tsx resolves with the condition added.
  register(new URL("./source-condition.js", import.meta.url));
  await import(source.href);
}
