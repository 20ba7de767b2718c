/**
 * Requests Node cannot parse (headers too large, malformed, too slow) never reach a route: Node
 * raises `clientError` on the socket. Fastify's default handler logs the error whole at trace
 * level, and Node puts the raw request bytes on it (`err.rawPacket`): URL, query string,
 * Authorization and Cookie headers. This handler logs only the parser's code and answers in
 * Herald's error format.
 */

import { ErrorCodes, type ErrorCode } from "@herald/protocol";
import type { FastifyInstance } from "fastify";
import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";

type ClientError = Error & { code?: string };

const ANSWERS: Record<string, { code: ErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: { code: "headers_too_large", message: "the request headers are larger than the server accepts (16 KiB by default)" },
  ERR_HTTP_REQUEST_TIMEOUT: { code: "request_timeout", message: "the request did not arrive within limits.requestTimeout" },
};

export function handleClientError(this: FastifyInstance, error: ClientError, socket: Socket): void {
  // A reset socket has nobody left to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const answer = ANSWERS[error.code ?? ""] ?? { code: "malformed_request" as const, message: "the request is not valid HTTP/1.1" };
  // The code and message only: the error also carries the raw request bytes, credentials included.
  this.log.trace({ clientError: { code: error.code, message: error.message } }, `client error: ${answer.code}`);
  if (socket.writable) {
    const status = ErrorCodes[answer.code].status;
    const body = JSON.stringify({ error: answer });
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}
