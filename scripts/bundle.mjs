#!/usr/bin/env node
// Bundles the browser packages with esbuild: ESM and CJS, self-contained (@herald/protocol is
// inlined, so the client has no runtime dependency), next to the .d.ts files tsc writes.
// Runs after `tsc -b` in `npm run build`.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const packages = [
  { dir: "packages/client", entry: "src/index.ts", worker: "src/share/worker.ts", name: "herald", external: [] },
  { dir: "packages/react", entry: "src/index.ts", name: "herald-react", external: ["react", "react/jsx-runtime", "@herald/client"] },
];

for (const pkg of packages) {
  for (const format of ["esm", "cjs"]) {
    // ESM keeps the client's on-demand imports (tab sharing) as chunks of their own, so an app's
    // bundler loads them only when used, and adds the SharedWorker script as a second entry.
    const split = format === "esm" && pkg.worker !== undefined;
    await build({
      absWorkingDir: `${root}/${pkg.dir}`,
      ...(split
        ? { entryPoints: { [pkg.name]: pkg.entry, "share-worker": pkg.worker }, outdir: "dist", splitting: true, chunkNames: "chunks/[name]-[hash]" }
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
