/**
 * The Pusher front door, built by the wiring when `pusher.apps` is configured: the WebSocket
 * endpoint at `/app/{key}` and the HTTP API at `/apps/{id}/…`, both on the one hub. Nothing but
 * the wiring imports this room (docs/pusher.md describes it).
 */

import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { SecurityContext } from "../auth/security-context.js";
import type { HeraldConfig } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import type { Admission } from "../transports/admission.js";
import { PusherApps } from "./apps.js";
import { ClientEvents } from "./client-events.js";
import { PusherEndpoint } from "./endpoint.js";
import { registerPusherHttpApi } from "./http-api.js";
import { LeftBehind } from "./left-behind.js";
import { Occupancy } from "./occupancy.js";
import { PusherPresence } from "./presence.js";
import { PusherSubscriptions } from "./subscriptions.js";
import { PusherWebhooks, type WebhookOutlets } from "./webhooks.js";

export { PusherApps } from "./apps.js";
export { guardPusherChannels } from "./private-channel-guard.js";
export type { WebhookOutlet, WebhookOutlets, WebhookTarget } from "./webhooks.js";

export interface PusherFrontDoorOptions {
  readonly config: HeraldConfig;
  readonly apps: PusherApps;
  readonly hub: Hub;
  readonly engine: Engine;
  readonly http: FastifyInstance;
  readonly admission: Admission;
  readonly security: SecurityContext;
  readonly stats: HubStats;
  readonly logger: Logger;
  readonly node: string;
  /** Where the apps' webhooks are queued (the sinks' delivery store); without it none are sent. */
  readonly webhookOutlets?: WebhookOutlets;
  /**
   * Whether nodes of this hub can die apart from each other (several nodes on Redis, or workers),
   * so that a node still up must report what a dead one leaves (left-behind.ts).
   */
  readonly nodesDieApart: boolean;
  /** Ends every connection of a hub user on every node (the server API's disconnect). */
  disconnect(user: string, options: { reason: string }): Promise<unknown>;
  accepting(): boolean;
}

export class PusherFrontDoor {
  private readonly endpoint: PusherEndpoint;
  private readonly occupancy: Occupancy;
  readonly webhooks: PusherWebhooks;
  /** Reports what dead nodes leave, when some app's webhooks want channel_vacated or member_removed. */
  private readonly leftBehind: LeftBehind | undefined;

  constructor(options: PusherFrontDoorOptions) {
    const { config, hub } = options;
    this.webhooks = new PusherWebhooks(options.apps, options.webhookOutlets, options.logger.child({ front: "pusher", webhooks: true }));
    const webhooks = this.webhooks;
    const wantsLeaves = [...options.apps.all()].some((app) => webhooks.wants(app, "channel_vacated") || webhooks.wants(app, "member_removed"));
    this.leftBehind =
      options.nodesDieApart && wantsLeaves
        ? new LeftBehind(options.engine, options.node, options.apps, webhooks, { presenceTtlMs: config.engine.presenceTtl, logger: options.logger.child({ front: "pusher", leftBehind: true }) })
        : undefined;
    const occupancy = (this.occupancy = new Occupancy(options.engine, options.node, webhooks, config.pusher.leaveDelay, this.leftBehind));
    const presence = new PusherPresence(hub, occupancy);
    this.endpoint = new PusherEndpoint({
      hub,
      apps: options.apps,
      admission: options.admission,
      security: options.security,
      stats: options.stats,
      logger: options.logger.child({ front: "pusher" }),
      subscriptions: new PusherSubscriptions(hub, occupancy, presence, this.webhooks),
      clientEvents: new ClientEvents(hub, this.webhooks),
      maxPayload: config.maxPayload,
      sendQueueBytes: config.sendQueueBytes,
      activityTimeout: config.pusher.activityTimeout,
      pongTimeout: config.pusher.pongTimeout,
    });
    registerPusherHttpApi(options.http, { hub, apps: options.apps, occupancy, disconnect: options.disconnect, accepting: options.accepting });
  }

  /** Once the engine runs: marks this node live for the others and starts reporting what dead nodes left. */
  async start(): Promise<void> {
    await this.leftBehind?.start();
  }

  /** Handles an upgrade to `/app/{key}`; false for any other path. */
  handleUpgrade(...args: Parameters<PusherEndpoint["handleUpgrade"]>): boolean {
    return this.endpoint.handleUpgrade(...args);
  }

  get connectionCount(): number {
    return this.endpoint.connectionCount;
  }

  /** Closes the connections; channels they leave are reported at once (no leaveDelay), as far as the queues still take them. */
  close(): void {
    void this.leftBehind?.stop();
    void this.occupancy.close().then(() => this.webhooks.drain());
    this.endpoint.close();
  }
}
