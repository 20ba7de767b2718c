/**
 * Answers an HTTP request with Herald's error body, `{"error":{"code","message"}}`, and the status
 * the code names. In transports/ because SSE and polling refuse with it too, and http/ sits above them.
 */

import { ErrorCodes, type ErrorCode } from "@herald/protocol";
import type { FastifyReply } from "fastify";

export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(ErrorCodes[code].status).type("application/json").send({ error: { code, message } });
}
