#!/usr/bin/env node
// Prints the size of the browser client as a user's bundler would ship it: the whole public
// entry bundled with esbuild, minified, then gzipped. Goal: under 8 KB.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const result = await build({
  absWorkingDir: `${root}/packages/client`,
  entryPoints: ["src/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  conditions: ["herald-source"],
  write: false,
  logLevel: "warning",
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 });
const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;
console.log(`@herald/client: ${kb(code.length)} min, ${kb(gzipped.length)} min+gzip (goal < 8 KB)`);
if (process.argv.includes("--check") && gzipped.length > 8 * 1024) process.exit(1);
