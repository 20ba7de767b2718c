/**
 * Independent Redis servers: one, or several shards. Each channel lives on the shard that
 * redis-shard-index.ts picks from its name, so its stream, idempotency records, presence and
 * pub/sub are all on that shard; the shards know nothing of each other. One command connection
 * per shard; a shard that is away makes only its own channels unavailable.
 */

import { Redis, type RedisOptions } from "ioredis";
import { shardIndex } from "./redis-shard-index.js";
import { redactUrl, unreachable, type RedisCommands, type RedisTopology, type TopologyEvents } from "./redis-topology.js";

export class RedisServers implements RedisTopology {
  private connections: Redis[] = [];
  private readonly names: ReadonlyMap<string, string>;

  constructor(
    private readonly urls: readonly string[],
    private readonly options: RedisOptions,
  ) {
    if (urls.length === 0) throw new Error("the Redis engine needs at least one Redis URL");
    this.names = new Map(urls.map((url, index) => [String(index), url]));
  }

  async connect(events: TopologyEvents): Promise<void> {
    const lastErrors = new Map<Redis, string>();
    this.connections = this.urls.map((url) => {
      const connection = new Redis(url, this.options);
      // ioredis reports every failed reconnection attempt as an error; availability carries the news.
      connection.on("error", (error: Error) => lastErrors.set(connection, error.message));
      return connection;
    });
    const results = await Promise.allSettled(this.connections.map((connection) => connection.connect()));
    const failed = results.flatMap((result, index) =>
      result.status === "rejected" ? [`${redactUrl(this.urls[index]!)}: ${lastErrors.get(this.connections[index]!) || (result.reason as Error).message}`] : [],
    );
    if (failed.length > 0) {
      await this.close();
      throw new Error(`cannot reach Redis at ${failed.join("; ")}`);
    }
    for (const connection of this.connections) {
      connection.on("close", () => events.down());
      connection.on("ready", () => events.up());
    }
  }

  async close(): Promise<void> {
    const connections = this.connections;
    this.connections = [];
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  commandsFor(channel: string): RedisCommands {
    const index = shardIndex(channel, this.urls.length);
    const connection = this.connections[index];
    if (connection?.status !== "ready") throw unreachable(`Redis at ${redactUrl(this.urls[index]!)} is not reachable`);
    return connection;
  }

  serverOf(channel: string): string {
    return String(shardIndex(channel, this.urls.length));
  }

  servers(): ReadonlyMap<string, string> {
    return this.names;
  }

  everyServer(): RedisCommands[] {
    return this.connections;
  }

  get reachable(): boolean {
    return this.connections.some((connection) => connection.status === "ready");
  }

  refresh(): void {
    // Shards never move.
  }

  describe(): Record<string, unknown> {
    if (this.urls.length === 1) return { url: redactUrl(this.urls[0]!) };
    return { shards: this.urls.map(redactUrl) };
  }

  /** The URL a server name stands for, credentials removed. */
  addressOf(server: string): string {
    return redactUrl(this.names.get(server) ?? server);
  }
}
