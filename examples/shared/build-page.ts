/**
 * Builds an example's browser page (its `web/` folder: index.html and the React code it loads)
 * with Vite, so every example serves its page the same way and nothing needs a build step first.
 */

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Builds `webDir` into a fresh temporary folder and returns that folder's path. `base` is the URL
 * path the page is served under (default `/`): its assets are linked from there.
 */
export async function buildPage(webDir: string, options: { base?: string } = {}): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), "herald-example-page-"));
  const { build, defaultClientConditions } = await import("vite");
  await build({
    root: webDir,
    logLevel: "warn",
    configFile: false,
    base: options.base ?? "/",
    // herald-source: use the workspace packages' TypeScript sources, so no package build is needed.
    resolve: { conditions: ["herald-source", ...defaultClientConditions] },
    esbuild: { jsx: "automatic" },
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}
