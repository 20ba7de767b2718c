/**
 * HTTP errors: every refusal is `{"error":{"code","message"}}` with the status its code names.
 * In transports/ because SSE and polling refuse with it too, and http/ sits above them.
 */

import { ErrorCodes, type ErrorCode } from "@herald/protocol";
import type { FastifyReply } from "fastify";

export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
    this.status = ErrorCodes[code].status;
  }
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(ErrorCodes[code].status).type("application/json").send({ error: { code, message } });
}
