/** Builds the React page (web/) with Vite into `outDir`. */

import { fileURLToPath } from "node:url";

export async function buildPage(outDir: string): Promise<void> {
  const { build, defaultClientConditions } = await import("vite");
  await build({
    root: fileURLToPath(new URL("../web", import.meta.url)),
    logLevel: "warn",
    configFile: false,
    resolve: { conditions: ["herald-source", ...defaultClientConditions] },
    esbuild: { jsx: "automatic" },
    build: { outDir, emptyOutDir: true },
  });
}
