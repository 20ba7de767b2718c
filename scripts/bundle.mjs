#!/usr/bin/env node
// Bundles the browser packages with esbuild: ESM and CJS, self-contained (@herald/protocol is
// inlined, so the client has no runtime dependency), next to the .d.ts files tsc writes.
// Runs after `tsc -b` in `npm run build`.
import { build } from "esbuild";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const packages = [
  // The MessagePack codec is an entry of its own (@herald/client/msgpack), so the core never ships it.
  { dir: "packages/client", entry: "src/msgpack.ts", name: "msgpack", external: [] },
  { dir: "packages/client", entry: "src/index.ts", name: "herald", external: [], chunks: true },
  { dir: "packages/react", entry: "src/index.ts", name: "herald-react", external: ["react", "react/jsx-runtime", "@herald/client"] },
];

for (const pkg of packages) {
  // Chunk names carry a content hash: clear the old ones.
  await rm(`${root}/${pkg.dir}/dist/chunks`, { recursive: true, force: true });
  for (const format of ["esm", "cjs"]) {
    // ESM keeps the client's on-demand import (tab sharing) as a chunk of its own, so that an
    // app's bundler loads it only when used.
    const split = format === "esm" && pkg.chunks === true;
    await build({
      absWorkingDir: `${root}/${pkg.dir}`,
      ...(split
        ? { entryPoints: { [pkg.name]: pkg.entry }, outdir: "dist", splitting: true, chunkNames: "chunks/[name]-[hash]" }
        : { entryPoints: [pkg.entry], outfile: `dist/${pkg.name}.${format === "esm" ? "js" : "cjs"}` }),
      bundle: true,
      format,
      platform: "neutral",
      target: "es2020",
      conditions: ["herald-source"],
      mainFields: ["module", "main"],
      external: pkg.external,
      jsx: "automatic",
      sourcemap: true,
      logLevel: "warning",
    });
  }
}

// The SharedWorker script in one file with no import of its own, so that any bundler can emit it
// as a worker (Vite's default worker format, IIFE, takes no chunks).
await build({
  absWorkingDir: `${root}/packages/client`,
  entryPoints: ["src/share/worker.ts"],
  outfile: "dist/share-worker.js",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2020",
  conditions: ["herald-source"],
  mainFields: ["module", "main"],
  sourcemap: true,
  logLevel: "warning",
});
