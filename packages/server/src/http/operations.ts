/** `/api/status`, `/healthz` and `/metrics`: what operators and load balancers read. */

import type { FastifyInstance } from "fastify";
import type { HttpContext } from "./context.js";
import { HttpError } from "./http-error.js";

export function registerOperations(app: FastifyInstance, context: HttpContext): void {
  app.get("/api/status", async (request) => {
    // Without the admin token (or off loopback when none is set) only the liveness summary shows.
    if (!context.security.admin.allows(request.raw)) {
      return { node: context.node, version: context.version, uptime: Math.round((Date.now() - context.stats.startedAt) / 1000), detail: "send Authorization: Bearer <admin token> for the full status" };
    }
    const counts = context.hub.counts();
    const engine = context.engine.status();
    return {
      node: context.node,
      version: context.version,
      uptime: Math.round((Date.now() - context.stats.startedAt) / 1000),
      engine,
      connections: counts.connections,
      subscriptions: counts.subscriptions,
      channels: counts.channels,
      users: counts.users,
      transports: {
        websocket: { connections: counts.byTransport.websocket, delivered: context.stats.deliveredBy.websocket, bytesSent: context.stats.bytesSent.websocket },
        sse: { connections: counts.byTransport.sse, delivered: context.stats.deliveredBy.sse, bytesSent: context.stats.bytesSent.sse },
        polling: { connections: counts.byTransport.polling, delivered: context.stats.deliveredBy.polling, bytesSent: context.stats.bytesSent.polling },
      },
      events: { published: context.stats.eventsPublished, delivered: context.stats.eventsDelivered },
      slowConsumerDisconnects: context.stats.slowConsumerDisconnects,
      errors: Object.fromEntries(context.stats.errorsByCode),
      integrations: context.integrations?.() ?? {},
    };
  });

  app.get("/healthz", async (_request, reply) => {
    const engine = context.engine.status();
    const healthy = engine.available && context.accepting();
    return reply.code(healthy ? 200 : 503).send({
      status: healthy ? "ok" : context.accepting() ? "degraded" : "shutting_down",
      engine: { name: engine.name, available: engine.available },
      node: context.node,
    });
  });

  app.get("/metrics", async (request, reply) => {
    if (context.config.security.protectMetrics && !context.security.admin.allows(request.raw)) {
      throw new HttpError("unauthorized", "send Authorization: Bearer <admin token> to read /metrics");
    }
    const text = await context.metrics.text();
    return reply.type(context.metrics.registry.contentType).send(text);
  });
}
