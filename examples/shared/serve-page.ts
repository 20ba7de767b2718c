/**
 * Builds an example's React page with Vite and serves the built files from Herald's own HTTP
 * app, so the page, the REST API and the WebSocket endpoints share one origin (no CORS to set).
 */

import { readFile } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Builds an example's page folder into a fresh temporary folder and returns its path. */
export async function buildPage(pageDir: string): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), "herald-example-page-"));
  const { build, defaultClientConditions } = await import("vite");
  await build({
    root: pageDir,
    logLevel: "warn",
    configFile: false,
    // herald-source: use the workspace packages' TypeScript sources, so no package build is needed.
    resolve: { conditions: ["herald-source", ...defaultClientConditions] },
    esbuild: { jsx: "automatic" },
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

/** Serves the built page at / and its assets under /assets/. */
export function servePage(app: FastifyInstance, pageDir: string): void {
  app.get("/", async (_request, reply) => reply.type(TYPES[".html"]!).send(await readFile(join(pageDir, "index.html"))));
  app.get<{ Params: { file: string } }>("/assets/:file", async (request, reply) => {
    // basename() keeps the request inside the assets folder whatever it asks for.
    const file = basename(request.params.file);
    const type = TYPES[extname(file)];
    if (!type) return reply.code(404).send({ error: { code: "not_found", message: `no asset ${file}` } });
    try {
      return reply.type(type).send(await readFile(join(pageDir, "assets", file)));
    } catch {
      return reply.code(404).send({ error: { code: "not_found", message: `no asset ${file}` } });
    }
  });
}
