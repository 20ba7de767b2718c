/**
 * JSON bodies parsed by Fastify's own parser (which refuses `__proto__` poisoning), with the raw
 * text kept on `request.rawBody`: an HMAC signature is over the exact bytes sent, and re-encoding
 * the parsed object would not reproduce them.
 */

import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The body as received, for application/json requests. */
    rawBody?: string;
  }
}

export function registerRawJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    request.rawBody = body as string;
    parse(request, body as string, done);
  });
}
