#!/usr/bin/env node
// Bundles the browser packages with esbuild: ESM and CJS, self-contained (@herald/protocol is
// inlined, so the client has no runtime dependency), next to the .d.ts files tsc writes.
// Runs after `tsc -b` in `npm run build`.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const packages = [
  { dir: "packages/client", entry: "src/index.ts", name: "herald", external: [] },
  { dir: "packages/react", entry: "src/index.ts", name: "herald-react", external: ["react", "react/jsx-runtime", "@herald/client"] },
];

for (const pkg of packages) {
  for (const format of ["esm", "cjs"]) {
    await build({
      absWorkingDir: `${root}/${pkg.dir}`,
      entryPoints: [pkg.entry],
      outfile: `dist/${pkg.name}.${format === "esm" ? "js" : "cjs"}`,
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
