/** The content type the JSON routes (publish, the server API) take, checked before the body is read. */

import type { IncomingHttpHeaders } from "node:http";
import { HeraldError } from "../shared/herald-error.js";

/** Refuses a body that is not `application/json` (or a `+json` type) with 415 `unsupported_media_type`. */
export function requireJson(headers: IncomingHttpHeaders): void {
  const contentType = headers["content-type"] ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new HeraldError("unsupported_media_type", `send the body as application/json (got ${contentType ? JSON.stringify(contentType.slice(0, 60)) : "no content type"})`);
  }
}
