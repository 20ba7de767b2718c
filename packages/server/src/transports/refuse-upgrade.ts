/**
 * Answers a WebSocket upgrade request with an HTTP error instead of switching protocols: the status
 * and its text come from the error's code (Node's own status texts), the body is Herald's error body.
 */

import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { HeraldError } from "../shared/herald-error.js";

export function refuseUpgrade(socket: Duplex, error: HeraldError): void {
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  const head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  if (socket.writable) socket.end(head + body);
  else socket.destroy();
}
