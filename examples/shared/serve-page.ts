/**
 * Serves an example's page files: from Herald's own HTTP app (`servePage`), so the page, the REST
 * API and the WebSocket endpoints share one origin (no CORS to set), or from an example's own
 * HTTP server (`sendPageFile`).
 */

import { readFile } from "node:fs/promises";
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { basename, extname, relative, resolve, sep } from "node:path";
import type { FastifyInstance } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface PageFile {
  type: string;
  body: Buffer;
}

/**
 * The file a URL path names inside `pageDir`, or undefined when there is none, its type is not a
 * page's, or the path would lead out of the folder.
 */
async function readPageFile(pageDir: string, urlPath: string): Promise<PageFile | undefined> {
  const root = resolve(pageDir);
  const file = resolve(root, `.${urlPath}`);
  // Compared by path segments, so a sibling folder whose name starts like the root stays outside.
  const inside = relative(root, file);
  if (inside === "" || inside.startsWith(`..${sep}`) || inside === "..") return undefined;
  const type = TYPES[extname(file)];
  if (!type) return undefined;
  try {
    return { type, body: await readFile(file) };
  } catch {
    return undefined;
  }
}

/** Serves a page built with buildPage at / and its assets under /assets/. */
export function servePage(app: FastifyInstance, pageDir: string): void {
  app.get("/", async (_request, reply) => {
    const page = await readPageFile(pageDir, "/index.html");
    if (!page) return reply.code(404).send({ error: { code: "not_found", message: "no page built" } });
    return reply.type(page.type).send(page.body);
  });
  app.get<{ Params: { file: string } }>("/assets/:file", async (request, reply) => {
    // basename() keeps the request inside the assets folder whatever it asks for.
    const file = basename(request.params.file);
    const asset = await readPageFile(pageDir, `/assets/${file}`);
    if (!asset) return reply.code(404).send({ error: { code: "not_found", message: `no asset ${file}` } });
    return reply.type(asset.type).send(asset.body);
  });
}

/**
 * Answers with the file a URL path names inside `pageDir`. False when there is no such page file,
 * and nothing was sent: the example answers its own 404.
 */
export async function sendPageFile(response: ServerResponse, pageDir: string, urlPath: string, headers: OutgoingHttpHeaders = {}): Promise<boolean> {
  const page = await readPageFile(pageDir, urlPath);
  if (!page) return false;
  response.writeHead(200, { ...headers, "content-type": page.type });
  response.end(page.body);
  return true;
}
