/**
 * Where the sinks' deliveries wait: in this process (`memory`), or in Redis or PostgreSQL through
 * BullMQ (`redis`, `postgres`), where they survive restarts and any node may take them. One store
 * per node, shared by the sinks: it owns the connections, makes each sink's queues, and takes them
 * through start, stop-taking and close together.
 *
 * Redis: two connections, however many queues: one for adding (it fails at once while Redis is
 * away, so a publish is not held up by a queue that cannot store) and one for the workers (which
 * wait for Redis to come back, as BullMQ requires); each worker adds its own blocking connection.
 * Keys live under `<engine prefix>{sinks}:`, one hash slot, so that BullMQ's scripts work on a
 * Redis Cluster. With independent shards the queues live on the first shard (a queue has one order).
 *
 * PostgreSQL: BullMQ's PostgreSQL backend, in its own schema (created and migrated at start).
 */

import { Cluster, Redis, type RedisOptions } from "ioredis";
import { Queue, Worker, createPostgresBackend, withBackend, type Job } from "bullmq";
import type { Logger } from "pino";
import { parseSeeds } from "../engine/redis-cluster.js";
import type { DeliveryQueue, DeliveryQueueOptions } from "./delivery-queue.js";
import { DurableDeliveryQueue, type BullBinding, type BullQueue, type BullWorker, type WorkerTuning } from "./durable-delivery-queue.js";
import { MemoryDeliveryQueue } from "./memory-delivery-queue.js";

export type DeliveryStoreKind = "memory" | "redis" | "postgres";

/** Where the Redis store is: the engine's layout (docs/scaling.md). */
export interface RedisLayout {
  readonly url?: string;
  /** Seed URLs of a Redis Cluster. */
  readonly cluster?: readonly string[];
  /** Independent servers: the queues live on the first. */
  readonly shards?: readonly string[];
}

export interface DeliveryStoreOptions {
  readonly kind: DeliveryStoreKind;
  readonly redis: RedisLayout;
  /** The engine's key prefix; the queues' keys go under `<prefix>{sinks}:`. */
  readonly redisPrefix: string;
  readonly postgresUrl?: string;
  readonly postgresSchema: string;
  /** How long a silent node keeps a delivery before another node takes it, ms. */
  readonly lockDuration: number;
  /** How long delivered ids are remembered to refuse a repeated add, ms (the publish replay window). */
  readonly rememberDelivered: number;
  /** Names this node's connections (Redis CLIENT LIST, PostgreSQL application_name). */
  readonly connectionName: string;
  readonly logger: Logger;
}

// A command to Redis that gets no answer in this time fails, so a publish is never held longer.
const COMMAND_TIMEOUT = 5_000;

export class DeliveryStore {
  readonly kind: DeliveryStoreKind;
  /** Made with the first durable queue, so a node without sinks opens no connection. */
  private binding: BullBinding | undefined;
  private readonly durable: Array<DurableDeliveryQueue<unknown>> = [];
  private readonly all: Array<DeliveryQueue<unknown>> = [];
  private readonly release: Array<() => Promise<void>> = [];

  constructor(private readonly options: DeliveryStoreOptions) {
    this.kind = options.kind;
  }

  /** A queue for one sink's deliveries (or one webhook endpoint's). */
  queue<T>(queueOptions: DeliveryQueueOptions<T>): DeliveryQueue<T> {
    if (this.kind === "memory") {
      const memory = new MemoryDeliveryQueue<T>(queueOptions);
      this.all.push(memory as DeliveryQueue<unknown>);
      return memory;
    }
    this.binding ??= this.kind === "redis" ? this.redisBinding() : this.postgresBinding();
    const durable = new DurableDeliveryQueue<T>(queueOptions, this.binding, this.options.logger);
    this.durable.push(durable as DurableDeliveryQueue<unknown>);
    this.all.push(durable as DeliveryQueue<unknown>);
    return durable;
  }

  /** Starts every queue's worker on this node. */
  async start(): Promise<void> {
    await Promise.all(this.durable.map((queue) => queue.start()));
  }

  /** Takes no more deliveries and waits up to `timeoutMs` for the ones in flight; adding still works. */
  async stopTaking(timeoutMs: number): Promise<void> {
    await Promise.all(this.all.map((queue) => queue.stopTaking(timeoutMs)));
  }

  /** Closes the queues and the connections (after the last publish was answered). */
  async close(): Promise<void> {
    await Promise.all(this.all.map((queue) => queue.close()));
    for (const release of this.release.splice(0)) await release().catch(() => undefined);
  }

  private redisBinding(): BullBinding {
    const { connectionName, logger } = this.options;
    const adding = this.redisClient({ connectionName: `${connectionName}-sinks`, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT });
    const working = this.redisClient({ connectionName: `${connectionName}-sink-workers`, maxRetriesPerRequest: null });
    // Failed reconnections are reported by every command; the queues log what matters.
    adding.on("error", () => undefined);
    working.on("error", () => undefined);
    let connected = false;
    adding.on("ready", () => {
      if (connected) for (const queue of this.durable) queue.settle().catch((error: unknown) => logger.warn({ err: (error as Error).message }, "delivery queue settings not written again after a reconnection"));
      connected = true;
    });
    this.release.push(async () => {
      adding.disconnect();
      working.disconnect();
    });
    const prefix = `${this.options.redisPrefix}{sinks}`;
    logger.debug({ store: "redis", prefix }, "sink deliveries queue in Redis");
    return {
      store: "redis",
      lockDuration: this.options.lockDuration,
      keepCompleted: Math.ceil(this.options.rememberDelivered / 1000),
      newQueue: <T>(name: string) => new Queue<T, void, string>(name, { connection: adding, prefix }) as unknown as BullQueue<T>,
      newWorker: <T>(name: string, process: (job: Job<T, void, string>) => Promise<void>, tuning: WorkerTuning) =>
        new Worker<T, void, string>(name, process, { connection: working, prefix, ...tuning }) as unknown as BullWorker<T>,
    };
  }

  /** One connection to where the queues live: the engine's server, its first shard, or its cluster. */
  private redisClient(options: RedisOptions): Redis | Cluster {
    const retryStrategy = (times: number): number => Math.min(100 * times, 1_000);
    const { url, cluster, shards } = this.options.redis;
    if (cluster) {
      const address = parseSeeds(cluster);
      const { enableOfflineQueue, ...nodeOptions } = options;
      return new Cluster(address.seeds, {
        enableOfflineQueue: enableOfflineQueue ?? true,
        clusterRetryStrategy: retryStrategy,
        redisOptions: {
          ...nodeOptions,
          ...(address.username !== undefined ? { username: address.username } : {}),
          ...(address.password !== undefined ? { password: address.password } : {}),
          ...(address.tls ? { tls: {} } : {}),
        },
      });
    }
    // Shards place channels by hash; a queue keeps one order, so it lives on one of them.
    return new Redis(shards?.[0] ?? url ?? "redis://127.0.0.1:6379", { ...options, retryStrategy });
  }

  private postgresBinding(): BullBinding {
    const url = this.options.postgresUrl;
    if (!url) throw new Error("the postgres delivery store needs sources.postgres.url (DATABASE_URL)");
    const bound = withBackend(createPostgresBackend);
    const connection = { connectionString: url, schema: this.options.postgresSchema, migrate: true, application_name: this.options.connectionName };
    return {
      store: "postgres",
      lockDuration: this.options.lockDuration,
      keepCompleted: Math.ceil(this.options.rememberDelivered / 1000),
      newQueue: <T>(name: string) => new bound.Queue<T, void, string>(name, { connection }) as unknown as BullQueue<T>,
      newWorker: <T>(name: string, process: (job: Job<T, void, string>) => Promise<void>, tuning: WorkerTuning) =>
        new bound.Worker<T, void, string>(name, process, { connection, ...tuning }) as unknown as BullWorker<T>,
    };
  }
}
