/** `/api/status`, `/healthz`, `/readyz` and `/metrics`: what operators, orchestrators and load balancers read. */

import type { FastifyInstance } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { ADMIN_ONLY } from "../auth/admin-guard.js";
import { HeraldError } from "../shared/herald-error.js";
import { nodeFigures } from "../ops/node-figures.js";

export function registerOperations(app: FastifyInstance, context: HttpContext): void {
  const ready = () => {
    const engine = context.engine.status();
    const status = !context.accepting() ? "shutting_down" : engine.available ? "ready" : "engine_unavailable";
    return { ready: status === "ready", status, engine: { name: engine.name, available: engine.available } };
  };

  app.get("/api/status", async (request) => {
    const credential = context.security.admin.credential(request.raw);
    if (credential === "invalid") throw new HeraldError("unauthorized", ADMIN_ONLY);
    const figures = nodeFigures(context.hub, context.stats, context.node);
    const [workers, cluster] = await Promise.all([context.workers?.figures(), context.cluster?.figures()]);
    const engine = context.engine.status();
    // Anyone may read these: counts only, no channel name, user, event or address (docs/operations.md).
    const summary = {
      node: context.node,
      version: context.version,
      uptime: Math.round((Date.now() - context.stats.startedAt) / 1000),
      engine: { name: engine.name, available: engine.available },
      connections: figures.connections,
      subscriptions: figures.subscriptions,
      channels: figures.channels,
      users: figures.users,
      transports: figures.transports,
      events: figures.events,
      slowConsumerDisconnects: figures.slowConsumerDisconnects,
      ...(workers ? { workers } : {}),
      ...(cluster ? { cluster } : {}),
    };
    if (credential === "none") return { ...summary, detail: "send Authorization: Bearer <admin token> for the engine's details, errors and integrations" };
    // The admin's detail: the engine's address and key prefix, errors, and the integrations' URLs, channels and dead letters.
    return {
      ...summary,
      engine,
      errors: Object.fromEntries(context.stats.errorsByCode),
      integrations: (await context.integrations?.()) ?? {},
    };
  });

  // Liveness: the process answers. Stays 200 through an engine outage, so an orchestrator does not
  // restart every node while Redis is down; the state is in the body.
  app.get("/healthz", async () => ({ status: "ok", ready: ready().ready, node: context.node }));

  // Readiness: whether to send this node traffic. 503 while its engine is unreachable or it drains.
  app.get("/readyz", async (_request, reply) => {
    const state = ready();
    return reply.code(state.ready ? 200 : 503).send({ status: state.status, engine: state.engine, node: context.node });
  });

  app.get("/metrics", async (request, reply) => {
    if (context.config.security.protectMetrics && !context.security.admin.allows(request.raw)) {
      throw new HeraldError("unauthorized", ADMIN_ONLY);
    }
    if (context.workers) {
      const merged = await context.workers.metricsText();
      return reply.type(merged.contentType).send(merged.text);
    }
    const text = await context.metrics.text();
    return reply.type(context.metrics.registry.contentType).send(text);
  });
}
