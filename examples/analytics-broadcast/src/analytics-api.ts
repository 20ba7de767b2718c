/**
 * The analytics REST API. Creating or updating an anchor or a corridor, and taking a snapshot,
 * broadcast the seed's update through herald.publish: `anchor_update` on analytics:anchors,
 * `corridor_update` on analytics:corridors, `snapshot_update` on analytics:snapshots. Every
 * client on /ws (the route in herald.yaml) is subscribed to all three.
 */

import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { Herald } from "@herald/server";
import { Analytics, updates } from "./analytics.js";

const percent = z.number().min(0).max(100);
const anchorBody = z.strictObject({ name: z.string().trim().min(1).max(200), stellar_account: z.string().regex(/^G[A-Z2-7]{1,55}$/, "stellar_account must be a Stellar account id (G…)"), reliability_score: percent.optional() });
const corridorBody = z.strictObject({
  corridor_key: z.string().min(3).max(300),
  success_rate: percent.optional(),
  volume_usd: z.number().min(0).optional(),
  total_transactions: z.number().int().min(0).optional(),
});

export function registerAnalyticsApi(app: FastifyInstance, herald: Herald, analytics = new Analytics()): void {
  app.get("/api/anchors", async () => [...analytics.anchors.values()]);
  app.get("/api/corridors", async () => [...analytics.corridors.values()]);
  app.get("/api/snapshots", async () => analytics.snapshots);

  app.post("/api/anchors", async (request, reply) => {
    const body = anchorBody.safeParse(request.body);
    if (!body.success) return invalid(reply, body.error);
    const anchor = analytics.createAnchor(body.data);
    await herald.publish("analytics:anchors", "anchor_update", updates.anchor(anchor));
    return reply.code(201).send(anchor);
  });

  app.put<{ Params: { id: string } }>("/api/anchors/:id", async (request, reply) => {
    const body = anchorBody.partial().safeParse(request.body);
    if (!body.success) return invalid(reply, body.error);
    const anchor = analytics.updateAnchor(request.params.id, body.data);
    if (!anchor) return reply.code(404).send({ error: { code: "not_found", message: `no anchor ${request.params.id}` } });
    await herald.publish("analytics:anchors", "anchor_update", updates.anchor(anchor));
    return anchor;
  });

  app.post("/api/corridors", async (request, reply) => {
    const body = corridorBody.safeParse(request.body);
    if (!body.success) return invalid(reply, body.error);
    const corridor = analytics.createCorridor(body.data);
    await herald.publish("analytics:corridors", "corridor_update", updates.corridor(corridor));
    return reply.code(201).send(corridor);
  });

  app.put<{ Params: { id: string } }>("/api/corridors/:id", async (request, reply) => {
    const body = corridorBody.partial().safeParse(request.body);
    if (!body.success) return invalid(reply, body.error);
    const corridor = analytics.updateCorridor(request.params.id, body.data);
    if (!corridor) return reply.code(404).send({ error: { code: "not_found", message: `no corridor ${request.params.id}` } });
    await herald.publish("analytics:corridors", "corridor_update", updates.corridor(corridor));
    return corridor;
  });

  app.post("/api/snapshots", async (_request, reply) => {
    const snapshot = analytics.takeSnapshot();
    await herald.publish("analytics:snapshots", "snapshot_update", updates.snapshot(snapshot));
    return reply.code(201).send(snapshot);
  });
}

function invalid(reply: FastifyReply, error: z.ZodError) {
  const issue = error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return reply.code(400).send({ error: { code: "invalid_request", message: `${where}${issue.message}` } });
}
