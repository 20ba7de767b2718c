/**
 * The structured logger (pino). Tokens, API keys and query strings never reach the logs: the
 * request serializer drops the query string, the error serializer drops the raw request bytes
 * Node attaches to parse errors, and the redaction list covers credential fields.
 */

import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from "pino";

export const REDACTED_PATHS = [
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "headers.cookie",
  "rawPacket",
  "*.rawPacket",
];

/** `/sse?channel=x&token=secret` → `/sse?…` (the path is kept for debugging, the query never is). */
export function redactUrl(url: string | undefined): string {
  if (!url) return "";
  const question = url.indexOf("?");
  return question === -1 ? url : `${url.slice(0, question)}?…`;
}

export function createLogger(level: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    serializers: {
      req(request: { method?: string; url?: string; id?: string; ip?: string }) {
        return { id: request.id, method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
      },
      // Node's HTTP parse errors carry the raw request (`rawPacket`): URL, query and credential headers.
      err(error: Error | string) {
        // Many callers log `err: error.message`; spreading a string would log it letter by letter.
        if (typeof error !== "object" || error === null) return error;
        const { rawPacket: _raw, ...serialized } = stdSerializers.err(error) as ReturnType<typeof stdSerializers.err> & { rawPacket?: unknown };
        return serialized;
      },
    },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
