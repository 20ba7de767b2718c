/**
 * createHerald: builds a hub from a configuration and wires engine, hub, transports and HTTP API.
 * The returned Herald can listen on its own port, or be mounted on an existing Node HTTP server.
 */

import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { createRequire } from "node:module";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { generateAdminToken } from "./auth/admin-guard.js";
import { ApiKeys } from "./auth/api-keys.js";
import type { Authorizer } from "./hub/authorizer.js";
import { ConfigAuthorizer } from "./auth/config-authorizer.js";
import { createSecurityContext, type SecurityContext } from "./auth/security-context.js";
import { applyServerTimeouts } from "./limits/server-timeouts.js";
import { loadConfig } from "./config/load.js";
import type { HeraldConfig, HeraldConfigInput } from "./config/schema.js";
import type { Engine, StreamEvent } from "./engine/engine.js";
import { MemoryEngine } from "./engine/memory.js";
import { RedisEngine } from "./engine/redis.js";
import { buildHttpApp } from "./http/app.js";
import { publishReceipt, type PublishResult } from "./hub/event-frame.js";
import { Hub } from "./hub/hub.js";
import { ClusterActions, type ChannelInfo, type ChannelsResult, type DisconnectOptions, type DisconnectResult, type SubscribeResult, type UnsubscribeResult } from "./hub/cluster-actions.js";
import { Integrations } from "./integrations/integrations.js";
import { Namespaces } from "./hub/namespaces.js";
import { HubStats } from "./hub/stats.js";
import { createLogger } from "./ops/logger.js";
import { Metrics } from "./ops/metrics.js";
import { WorkerFigures } from "./ops/worker-figures.js";
import { ClusterFigures, isFiguresRequest } from "./ops/cluster-figures.js";
import { activeTraceContext, flushTracing, startTracing } from "./shared/tracing.js";
import type { WorkerGroup } from "./ops/worker-group.js";
import { RouteTable } from "./transports/routes.js";
import { WebSocketTransport } from "./transports/websocket.js";
import { HeraldError } from "./shared/herald-error.js";
import { Admission } from "./transports/admission.js";
import { refuseUpgrade } from "./transports/refuse-upgrade.js";
import { guardPusherChannels, PusherApps, PusherFrontDoor } from "./pusher/pusher.js";

export type { PublishResult };

export interface HeraldOptions {
  /** Settings, as in a config file; validated like one. Environment variables are not read unless `env` is given. */
  config?: HeraldConfigInput;
  /** Read HERALD_* variables from this environment too (the CLI passes process.env). */
  env?: Record<string, string | undefined>;
  /** Path of a JSON or YAML config file. */
  configFile?: string;
  /** Use this engine instead of the one the config names (e.g. a shared instance in tests). */
  engine?: Engine;
  /** Decides authentication and permissions; the default follows the config's `auth` and `namespaces` (open when none is set). */
  authorizer?: Authorizer;
  /** A pino logger to use instead of the one made from `logLevel`. */
  logger?: Logger;
  /**
   * Set by `herald serve --workers N` in each worker process: its siblings, whose figures
   * /api/status and /metrics add to this one's. Embedding leaves it unset (one process).
   */
  workers?: WorkerGroup;
}

const version: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

export class Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly node: string;
  /**
   * The token that opens the admin surface (`/dashboard?token=…`, `Authorization: Bearer …`):
   * `security.adminToken`, or, when none is configured, a random one made for this process.
   */
  readonly adminToken: string;
  readonly hub: Hub;
  private readonly actions: ClusterActions;
  private readonly clusterFigures: ClusterFigures;
  /** The Fastify app serving the HTTP API; register more routes on it if you like. */
  readonly http: FastifyInstance;
  private readonly engine: Engine;
  private readonly websocket: WebSocketTransport;
  /** The Pusher protocol's endpoint and HTTP API, when `pusher.apps` is configured. */
  private readonly pusher: PusherFrontDoor | undefined;
  private readonly closeStreams: () => void;
  /** Sources (Postgres outbox, bridges) and sinks (email, webhooks) from the config. */
  readonly integrations: Integrations;
  private readonly security: SecurityContext;
  private accepting = true;
  private closing: Promise<void> | undefined;
  private started = false;

  /** Use createHerald(); the constructor does not start the engine. */
  constructor(options: HeraldOptions = {}) {
    this.config = loadConfig({ file: options.configFile, env: options.env ?? {}, overrides: options.config });
    this.logger = options.logger ?? createLogger(this.config.logLevel);
    this.node = this.config.node ?? `${hostname()}-${process.pid}`;
    this.engine = options.engine ?? createEngine(this.config, this.node);
    const stats = new HubStats(Object.keys(this.config.namespaces));
    this.adminToken = this.config.security.adminToken ?? generateAdminToken();
    this.security = createSecurityContext(this.config, this.adminToken);
    const pusherApps = new PusherApps(this.config.pusher.apps);
    const authorizer = options.authorizer ?? new ConfigAuthorizer(this.config);
    this.hub = new Hub({
      engine: this.engine,
      namespaces: new Namespaces(this.config),
      authorizer: pusherApps.size > 0 ? guardPusherChannels(authorizer, pusherApps, this.config.namespaces) : authorizer,
      stats,
      node: this.node,
      maxSubscriptionsPerConnection: this.config.maxSubscriptionsPerConnection,
      maxPatternChannels: this.config.maxPatternChannels,
      ...(tracksOnlineUsers(this.config) ? { online: { graceMs: this.config.online.grace, sweepIntervalMs: sweepInterval(this.config.online.grace), logger: this.logger } } : {}),
    });
    this.actions = new ClusterActions(this.hub, this.engine);
    this.clusterFigures = new ClusterFigures(this.engine, this.hub, stats, this.node);
    const metrics = new Metrics(this.hub, stats, this.node);
    this.integrations = new Integrations(this.config, this.hub, this.logger, this.node, this.engine);
    this.security.hits.register(metrics.registry, stats.errorsByCode);
    const admission = new Admission({ hub: this.hub, security: this.security, accepting: () => this.accepting });
    this.websocket = new WebSocketTransport({
      admission,
      hub: this.hub,
      routes: new RouteTable(this.config.routes),
      stats,
      logger: this.logger,
      node: this.node,
      pingInterval: this.config.pingInterval,
      idleTimeout: this.config.idleTimeout,
      sendQueueBytes: this.config.sendQueueBytes,
      maxPayload: this.config.maxPayload,
      security: this.security,
      perMessageDeflate: this.config.websocket.perMessageDeflate,
      path: this.config.websocket.path,
    });
    const built = buildHttpApp({
      config: this.config,
      hub: this.hub,
      actions: this.actions,
      engine: this.engine,
      stats,
      logger: this.logger,
      apiKeys: new ApiKeys(this.config.publish),
      metrics,
      node: this.node,
      version,
      security: this.security,
      admission,
      accepting: () => this.accepting,
      integrations: () => this.integrations.status(),
      retryDeadLetters: (filter) => this.integrations.retryDeadLetters(filter),
      ...(options.workers ? { workers: new WorkerFigures(options.workers, this.hub, stats, this.node, metrics) } : {}),
      // With the memory engine this node (or the workers' primary) is the whole hub: nothing more to count.
      ...(this.engine.name === "redis" ? { cluster: this.clusterFigures } : {}),
    });
    this.http = built.app;
    this.closeStreams = built.closeStreams;
    this.pusher =
      pusherApps.size === 0
        ? undefined
        : new PusherFrontDoor({
            config: this.config,
            apps: pusherApps,
            hub: this.hub,
            engine: this.engine,
            http: this.http,
            admission,
            security: this.security,
            stats,
            logger: this.logger,
            node: this.node,
            webhookOutlets: (app, target, index) => {
              const hash = createHash("sha256").update(target.url).digest("hex").slice(0, 16);
              const { maxQueue, deadLetters } = this.config.sinks.webhooks;
              const options = { name: `pusher-${app.id}-${index}-${hash}`, url: target.url, attempts: target.attempts, retryDelay: target.retryDelay, timeout: target.timeout, maxQueue, deadLetters };
              return this.integrations.pusherWebhooks.add(app.id, options, this.logger.child({ sink: "pusher-webhook", app: app.id }));
            },
            nodesDieApart: !(this.engine instanceof MemoryEngine),
            disconnect: (user, options) => this.actions.disconnect(user, options),
            accepting: () => this.accepting,
          });
    applyServerTimeouts(this.http.server, this.config.limits, this.security.hits);
    this.http.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.handleUpgrade(request, socket, head)) refuseUpgrade(socket, new HeraldError("not_found", "no WebSocket endpoint at this path"));
    });
  }

  /** Starts the engine and readies the HTTP app; createHerald() calls it. */
  async start(): Promise<this> {
    if (this.started) return this;
    this.started = true;
    try {
      await this.startParts();
    } catch (error) {
      // Whatever did start (engine connections, timers, integrations) would keep the process alive.
      await this.close().catch(() => undefined);
      throw error;
    }
    return this;
  }

  private async startParts(): Promise<void> {
    await startTracing(version);
    await this.engine.start({
      onEvent: (event) => this.hub.dispatch(event),
      onGap: (channel) => {
        this.logger.warn({ channel }, "events were lost on their way to this node; its subscribers must resync");
        this.hub.resync(channel);
      },
      onControl: (request) => (isFiguresRequest(request) ? Promise.resolve(this.clusterFigures.answer()) : this.actions.handle(request)),
      onUsersOnline: (users) => this.hub.online?.back(users),
      onAvailabilityChange: (available) => {
        if (available) this.logger.info({ engine: this.engine.name }, "engine available again");
        else this.logger.error({ engine: this.engine.name }, "engine unavailable: publishes are refused until it returns");
      },
    });
    await this.http.ready();
    await this.integrations.start();
    this.hub.online?.start();
    await this.pusher?.start();
  }

  /**
   * Publishes one event in-process, exactly as POST /api/publish would; `options.tags` (string →
   * string) are what subscribers' filters match (`invalid_tags` when they are not valid).
   */
  async publish(channel: string, type: string, data: unknown = null, options: { tags?: Record<string, string> } = {}): Promise<PublishResult> {
    if (!this.accepting) throw new HeraldError("shutting_down", "Herald is shutting down");
    // An embedding app that traces its requests (its own OpenTelemetry SDK) gets the event in its trace.
    const event: StreamEvent = await this.hub.publish(channel, type, data, undefined, undefined, activeTraceContext(), options.tags);
    return publishReceipt(event);
  }

  /**
   * Ends every connection of `user` on every node (the server API's `POST /api/disconnect`): its
   * clients stop (close 4510), or with `reconnect: true` reconnect at once (close 4010).
   */
  disconnect(user: string, options: DisconnectOptions = {}): Promise<DisconnectResult> {
    return this.actions.disconnect(user, options);
  }

  /** Removes `user`'s subscriptions to `channel` on every node (`POST /api/unsubscribe`). */
  unsubscribe(user: string, channel: string, reason?: string): Promise<UnsubscribeResult> {
    return this.actions.unsubscribe(user, channel, reason);
  }

  /** Subscribes every connection of `user` to `channel` on every node (`POST /api/subscribe`). */
  subscribe(user: string, channel: string): Promise<SubscribeResult> {
    return this.actions.subscribe(user, channel);
  }

  /** Channels held on any node, with their subscribers (`GET /api/channels`). */
  channels(prefix = "", limit = 1000): Promise<ChannelsResult> {
    return this.actions.channels(prefix, limit);
  }

  /** One channel's subscribers, users and presence, cluster-wide (`GET /api/channels/<channel>`). */
  channelInfo(channel: string): Promise<ChannelInfo> {
    return this.actions.channelInfo(channel);
  }

  /** Listens on the configured (or given) port; resolves to the base URL. */
  async listen(options: { port?: number; host?: string } = {}): Promise<string> {
    await this.start();
    try {
      return await this.http.listen({ port: options.port ?? this.config.port, host: options.host ?? this.config.host });
    } catch (error) {
      // A node that cannot listen (port taken) must not hang on its engine's open connections.
      await this.close().catch(() => undefined);
      throw error;
    }
  }

  /** The port the own server listens on (after listen). */
  get port(): number {
    const address = this.http.server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  /**
   * Mounts the WebSocket endpoints on an existing Node HTTP server. Upgrades for other paths are
   * left alone, so the server can keep its own WebSocket endpoints.
   */
  attach(server: Server): void {
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.handleUpgrade(request, socket, head)) return;
      if (server.listenerCount("upgrade") === 1) refuseUpgrade(socket, new HeraldError("not_found", "no WebSocket endpoint at this path"));
    });
  }

  /** Handles one upgrade request if its path is Herald's; returns false when it is not. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return (this.pusher?.handleUpgrade(request, socket, head) ?? false) || this.websocket.handleUpgrade(request, socket, head);
  }

  /** A Node request handler serving Herald's HTTP API, for mounting in another server. */
  readonly handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.http.routing(request, response);
  };

  /**
   * Graceful shutdown: stop accepting publishes (503 `shutting_down`), let in-flight publishes finish
   * and their answers go out (at most `shutdownTimeout`), and only then close clients with 1001 (so
   * they reconnect elsewhere), end HTTP connections and stop the engine. A publish is thus either
   * answered or not stored, unless the timeout cut it.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.accepting = false;
      await this.hub.online?.stop();
      await this.integrations.stop();
      if (!(await this.hub.publishes.settled(this.config.shutdownTimeout))) {
        this.logger.warn({ publishes: this.hub.publishes.size, shutdownTimeout: this.config.shutdownTimeout }, "shutdownTimeout passed with publishes in flight; closing their connections");
      }
      this.websocket.close();
      this.pusher?.close();
      this.closeStreams();
      await this.http.close();
      await this.engine.close();
      this.hub.closeAuthorizer();
      this.security.connections.close();
      await flushTracing();
    })();
    return this.closing;
  }
}

/** Builds and starts a Herald. */
export async function createHerald(options: HeraldOptions = {}): Promise<Herald> {
  return new Herald(options).start();
}

function createEngine(config: HeraldConfig, node: string): Engine {
  if (config.engine.type === "memory") return new MemoryEngine({ idempotencyKeys: config.publish.idempotencyKeys });
  const { redisUrl, redisCluster, redisShards, prefix, presenceTtl, patterns } = config.engine;
  return new RedisEngine({ url: redisUrl, cluster: redisCluster, shards: redisShards, prefix, presenceTtlMs: presenceTtl, connectionName: `herald:${node}`, patterns });
}

/** Users online are counted only where someone listens: a channel for them, or a webhook asking for them. */
function tracksOnlineUsers(config: HeraldConfig): boolean {
  if (config.online.channel !== undefined) return true;
  return config.sinks.webhooks.endpoints.some((endpoint) => endpoint.lifecycle.includes("user.online") || endpoint.lifecycle.includes("user.offline"));
}

/** Offline deadlines are claimed a few times per grace, at least once a second, so the notice is late by a fraction of it. */
function sweepInterval(graceMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(graceMs / 4)));
}
