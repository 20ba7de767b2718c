#!/usr/bin/env node
// Prints the size of the browser client as a user's bundler would ship it: the public entry
// bundled with esbuild (code splitting on, as in an app), minified, then gzipped. The core is the
// entry and what it imports statically (goal: under 9 KB, see docs/decisions.md); the tab-sharing and state-sync code are
// chunks the client imports on demand, printed on their own, as are the SharedWorker script and the
// MessagePack codec (an entry of its own that the app imports and passes as `format`).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const result = await build({
  absWorkingDir: `${root}/packages/client`,
  entryPoints: { herald: "src/index.ts", "share-worker": "src/share/worker.ts" },
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  conditions: ["herald-source"],
  outdir: "out",
  metafile: true,
  write: false,
  logLevel: "warning",
});
const files = new Map(result.outputFiles.map((file) => [file.path.slice(file.path.lastIndexOf("/out/") + 1), file.contents]));
const outputs = result.metafile.outputs;
/** A file and every chunk it imports statically. */
const closure = (path, seen = new Set()) => {
  if (seen.has(path)) return seen;
  seen.add(path);
  for (const imported of outputs[path].imports) if (imported.kind === "import-statement") closure(imported.path, seen);
  return seen;
};
const sizes = (paths) => {
  const code = Buffer.concat([...paths].map((path) => files.get(path)));
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
};
const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;
const core = closure("out/herald.js");
/** Each chunk the core imports on demand, with what it alone brings, named by its entry module. */
const lazy = new Map();
for (const path of core) {
  for (const imported of outputs[path].imports) {
    if (imported.kind !== "dynamic-import") continue;
    const own = new Set([...closure(imported.path)].filter((chunk) => !core.has(chunk)));
    const entry = outputs[imported.path].entryPoint ?? imported.path;
    lazy.set(/share/.test(entry) ? "tab sharing" : /state-sync/.test(entry) ? "getState (state sync)" : /delta/.test(entry) ? "deltas (Fossil decoder)" : entry, own);
  }
}
const worker = closure("out/share-worker.js");
// Built on its own, so that the core's chunks are split exactly as for an app that never imports it.
const codec = await build({
  absWorkingDir: `${root}/packages/client`,
  entryPoints: ["src/msgpack.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  conditions: ["herald-source"],
  write: false,
  logLevel: "warning",
});
const codecCode = codec.outputFiles[0].contents;
const msgpackSize = { min: codecCode.length, gzip: gzipSync(codecCode, { level: 9 }).length };
const coreSize = sizes(core);
const workerSize = sizes(worker);
console.log(`@herald/client: ${kb(coreSize.min)} min, ${kb(coreSize.gzip)} min+gzip (goal < 9 KB)`);
for (const [name, chunks] of lazy) {
  const size = sizes(chunks);
  console.log(`  ${name}, loaded on demand: ${kb(size.min)} min, ${kb(size.gzip)} min+gzip`);
}
console.log(`  @herald/client/msgpack (format: msgpack), imported by the app: ${kb(msgpackSize.min)} min, ${kb(msgpackSize.gzip)} min+gzip`);
console.log(`  share-worker script (whole client inside): ${kb(workerSize.min)} min, ${kb(workerSize.gzip)} min+gzip`);
if (process.argv.includes("--check") && coreSize.gzip > 9 * 1024) process.exit(1);
