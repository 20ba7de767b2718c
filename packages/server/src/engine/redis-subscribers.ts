/**
 * The Redis engine's pub/sub side: one subscriber connection per Redis server that carries
 * channels (one for a single Redis, one per shard, one per master of a Redis Cluster). Sharded
 * pub/sub (SSUBSCRIBE) must be listened to on the server that holds the topic's slot, and classic
 * pub/sub works the same way there, so each topic is listened to on its channel's server only.
 *
 * Pub/sub is fire-and-forget: whatever is published while a connection is down is lost to it. So
 * a connection does not resubscribe by itself; it reports `down`, and the engine, which knows the
 * last offset it delivered per channel, listens again and reads what it missed from the stream.
 */

import { Redis, type RedisOptions } from "ioredis";
import { unreachable } from "./redis-topology.js";

export interface SubscriberEvents {
  message(topic: string, message: string): void;
  /** A message of a topic that matched a glob given to `listenEverywhere` (classic pub/sub only). */
  patternMessage(topic: string, message: string): void;
  /** The connection to a server is ready (again). */
  up(server: string): void;
  /** The connection to a server was lost or closed: nothing is listened to there any more. */
  down(server: string): void;
  /** A cluster node ended some of its subscriptions itself because their slot moved away. */
  moved(server: string): void;
}

interface Connection {
  readonly url: string;
  readonly redis: Redis;
  lastError: string;
}

export class SubscriberConnections {
  private readonly connections = new Map<string, Connection>();
  /** Globs every connection listens to (PSUBSCRIBE), also after it comes back. */
  private readonly globs = new Set<string>();

  constructor(
    private readonly options: RedisOptions,
    private readonly sharded: boolean,
    /** The address a server name stands for, credentials removed, for messages. */
    private readonly addressOf: (server: string) => string,
    private readonly events: SubscriberEvents,
  ) {}

  /**
   * Opens a connection to every listed server not connected yet and closes those no longer listed.
   * With `strict`, rejects, naming them, unless every new connection came up.
   */
  async update(servers: ReadonlyMap<string, string>, strict: boolean): Promise<void> {
    for (const [server, connection] of this.connections) {
      if (servers.get(server) === connection.url) continue;
      this.connections.delete(server);
      connection.redis.disconnect();
      this.events.down(server);
    }
    const opened = [...servers].filter(([server]) => !this.connections.has(server)).map(([server, url]) => [server, this.open(server, url)] as const);
    const results = await Promise.allSettled(opened.map(([, connection]) => connection.redis.connect()));
    const failed = results.flatMap((result, index) => {
      const [server, connection] = opened[index]!;
      return result.status === "rejected" ? [`${this.addressOf(server)}: ${connection.lastError || (result.reason as Error).message}`] : [];
    });
    if (strict && failed.length > 0) throw new Error(`cannot open a subscriber connection to Redis at ${failed.join("; ")}`);
  }

  /** Listens to a topic on its server; engine_unavailable when that connection is not up. */
  async listen(server: string, topic: string): Promise<void> {
    const redis = this.ready(server);
    await (this.sharded ? redis.ssubscribe(topic) : redis.subscribe(topic));
    if (this.connections.get(server)?.redis !== redis || redis.status !== "ready") throw unreachable(`the subscriber connection to Redis at ${this.addressOf(server)} was lost while subscribing`);
  }

  /** Stops listening where that is possible now; a lost connection listens to nothing anyway. */
  async unlisten(server: string, topic: string): Promise<void> {
    const redis = this.connections.get(server)?.redis;
    if (redis?.status !== "ready") return;
    await (this.sharded ? redis.sunsubscribe(topic) : redis.unsubscribe(topic)).catch(() => undefined);
  }

  /**
   * Listens to a glob on every server (a matching topic may live on any), now and whenever a
   * connection comes back; resolves once every connection up now listens.
   */
  async listenEverywhere(glob: string): Promise<void> {
    this.globs.add(glob);
    await Promise.all([...this.connections.values()].filter(({ redis }) => redis.status === "ready").map(({ redis }) => redis.psubscribe(glob)));
  }

  async unlistenEverywhere(glob: string): Promise<void> {
    this.globs.delete(glob);
    await Promise.all([...this.connections.values()].filter(({ redis }) => redis.status === "ready").map(({ redis }) => redis.punsubscribe(glob).catch(() => undefined)));
  }

  isUp(server: string): boolean {
    return this.connections.get(server)?.redis.status === "ready";
  }

  get anyUp(): boolean {
    for (const connection of this.connections.values()) if (connection.redis.status === "ready") return true;
    return false;
  }

  /** The servers whose connection is down. */
  down(): string[] {
    return [...this.connections].filter(([, connection]) => connection.redis.status !== "ready").map(([server]) => server);
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map(({ redis }) => redis.quit().catch(() => redis.disconnect())));
  }

  private ready(server: string): Redis {
    const redis = this.connections.get(server)?.redis;
    if (redis?.status !== "ready") throw unreachable(`the subscriber connection to Redis at ${this.addressOf(server)} is not up`);
    return redis;
  }

  private open(server: string, url: string): Connection {
    const redis = new Redis(url, this.options);
    const connection: Connection = { url, redis, lastError: "" };
    this.connections.set(server, connection);
    const current = (): boolean => this.connections.get(server)?.redis === redis;
    redis.on("error", (error: Error) => (connection.lastError = error.message));
    redis.on(this.sharded ? "smessage" : "message", (topic: string, message: string) => this.events.message(topic, message));
    redis.on("close", () => current() && this.events.down(server));
    redis.on("pmessage", (_glob: string, topic: string, message: string) => this.events.patternMessage(topic, message));
    redis.on("ready", () => {
      if (!current()) return;
      if (this.globs.size === 0) return this.events.up(server);
      // Up once the globs are listened to again: what the engine reads to catch up must not miss a later event.
      void redis
        .psubscribe(...this.globs)
        .catch(() => undefined)
        .then(() => current() && this.events.up(server));
    });
    redis.on("moved", () => current() && this.events.moved(server));
    return connection;
  }
}
