/** The Fastify application: routes, body limits and the one error format. */

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { sendError } from "../transports/send-error.js";
import { registerPublish } from "./publish.js";
import { registerServerApi } from "./server-api.js";
import { registerReadApi } from "./read-api.js";
import { registerOperations } from "./operations.js";
import { registerPolling } from "../transports/polling.js";
import { registerSse } from "../transports/sse.js";
import { registerAck } from "../transports/ack.js";
import { registerRawJsonParser } from "./raw-json.js";
import { registerBrowserDefences } from "./browser-defences.js";
import { registerAdminFeed } from "./admin-feed.js";
import { registerDashboard } from "./dashboard.js";
import { registerDeadLetters } from "./dead-letters.js";
import { handleClientError } from "./client-errors.js";
import { HeraldError } from "../shared/herald-error.js";

// Fastify's own error codes, answered in Herald's format.
const FASTIFY_ERRORS: Record<string, { code: "payload_too_large" | "unsupported_media_type" | "invalid_json" | "invalid_body"; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "the body is larger than publish.maxBodyBytes" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "send the body as application/json" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_body", message: "the body is empty; send a JSON object" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "invalid_body", message: "Content-Length does not match the body" },
};

export function buildHttpApp(context: HttpContext): { app: FastifyInstance; closeStreams(): void } {
  const app: FastifyInstance = Fastify({
    loggerInstance: context.logger as FastifyBaseLogger,
    bodyLimit: context.config.publish.maxBodyBytes,
    // Per-request info lines would dominate the log under polling load; they are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    // A child logger per request (pino binding and redacting its id) cost about 4% of a publish's
    // CPU; Herald's own request lines name the request with `reqId` instead.
    childLoggerFactory: (logger) => logger,
    forceCloseConnections: true,
    return503OnClosing: true,
    clientErrorHandler: handleClientError,
    // request.ip (logs) follows the same rule as every per-IP decision: see shared/client-address.ts.
    trustProxy: (address: string) => context.security.clientAddress.isTrusted(address),
  });

  registerRawJsonParser(app);
  registerBrowserDefences(app, context.config);

  // Registered only where it logs: a hook on every answer costs every publish.
  if (context.logger.isLevelEnabled("debug")) {
    app.addHook("onResponse", (request, reply, done) => {
      request.log.debug({ req: request, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request done");
      done();
    });
  }

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HeraldError) {
      context.stats.countError(error.code);
      if (error.code === "internal_error") request.log.error({ reqId: request.id, err: error.cause ?? error }, "request failed");
      else if (error.detail) request.log.debug({ reqId: request.id, code: error.code, detail: error.detail }, "request refused");
      return sendError(reply, error.code, error.message);
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) {
      context.stats.countError(known.code);
      return sendError(reply, known.code, known.message);
    }
    if (error instanceof SyntaxError || error.statusCode === 400) {
      context.stats.countError("invalid_json");
      return sendError(reply, "invalid_json", `the body is not valid JSON: ${error.message}`);
    }
    request.log.error({ reqId: request.id, err: error }, "request failed");
    const refusal = HeraldError.from(error);
    context.stats.countError(refusal.code);
    return sendError(reply, refusal.code, refusal.message);
  });

  app.setNotFoundHandler((request, reply) => {
    context.stats.countError("not_found");
    return sendError(reply, "not_found", `no route ${request.method} ${request.url.split("?")[0]}; see docs/protocol.md for the HTTP API`);
  });

  registerPublish(app, context);
  registerServerApi(app, context);
  registerReadApi(app, context);
  registerOperations(app, context);
  registerPolling(app, context);
  const sse = registerSse(app, context);
  registerAck(app, context);
  const adminFeed = registerAdminFeed(app, context);
  registerDeadLetters(app, context);
  registerDashboard(app, context);
  return {
    app,
    closeStreams: () => {
      sse.close();
      adminFeed.close();
    },
  };
}
