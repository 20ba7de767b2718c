/**
 * A Redis Cluster, reached through ioredis' Cluster client. Every key and the pub/sub topic of a
 * channel share the hash tag `{channel}`, so they sit in one slot; the slot's master runs the
 * channel's scripts and carries its sharded pub/sub.
 *
 * Honesty, as for one Redis: a command is never re-sent. The client's own retries are turned off
 * where a command may already have run (a connection that broke after sending: `retryDelayOnFailover`
 * 0) and where Redis refused it (`CLUSTERDOWN`: passed on at once as unavailable). Before sending,
 * `commandsFor` checks that the master holding the channel's slot is connected: while it is away a
 * command for its slots is refused without leaving this node (503, surely not stored), and the
 * other masters' channels go on. The connection to a master that went away keeps trying, so its
 * channels come back when it returns or when a replica is promoted in its place (the slot map is
 * read again every few seconds and whenever a node answers MOVED).
 */

import { Cluster, type Redis, type RedisOptions } from "ioredis";
import { hashSlot } from "./redis-slot.js";
import { redactUrl, unreachable, type RedisCommands, type RedisTopology, type TopologyEvents } from "./redis-topology.js";

/** How often the slot map is read again when nothing prompted it, in ms. */
const SLOTS_REFRESH_INTERVAL_MS = 5_000;
/**
 * Longest wait for the cluster at start. ioredis' connect() never settles while the cluster
 * answers but reports itself not ok (it keeps retrying), and a node must not hang at start.
 */
const START_TIMEOUT_MS = 10_000;

export interface ClusterAddress {
  readonly seeds: Array<{ host: string; port: number }>;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

export class RedisClusterTopology implements RedisTopology {
  private cluster: Cluster | undefined;
  private readonly address: ClusterAddress;
  /** The client's node connections by "host:port", as the slot map names them. */
  private readonly nodes = new Map<string, Redis>();
  /** The slot map as last seen (ranges and their masters), to tell when it changed. */
  private knownSlots = "";

  constructor(
    private readonly seedUrls: readonly string[],
    private readonly prefix: string,
    private readonly options: RedisOptions,
  ) {
    if (/[{}]/.test(prefix)) throw new Error(`the Redis key prefix ${JSON.stringify(prefix)} has a brace: on a Redis Cluster it would put every channel in one slot`);
    this.address = parseSeeds(seedUrls);
  }

  async connect(events: TopologyEvents): Promise<void> {
    const { retryStrategy: _ownRetries, lazyConnect: _lazy, enableOfflineQueue: _queue, ...nodeOptions } = this.options;
    const cluster = new Cluster(this.address.seeds, {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1_000),
      clusterNodeRetryStrategy: (times) => Math.min(100 * times, 1_000),
      redisOptions: {
        ...nodeOptions,
        ...(this.address.username !== undefined ? { username: this.address.username } : {}),
        ...(this.address.password !== undefined ? { password: this.address.password } : {}),
        ...(this.address.tls ? { tls: {} } : {}),
      },
    });
    this.cluster = cluster;
    let lastError = "";
    cluster.on("error", (error: Error) => (lastError = error.message));
    cluster.on("node error", (error: Error, node: string) => (lastError = `${node}: ${error.message}`));
    cluster.on("+node", (node: Redis) => {
      this.nodes.set(nodeKey(node), node);
      node.on("ready", () => events.up());
      node.on("close", () => events.down());
    });
    cluster.on("-node", (node: Redis) => {
      if (this.nodes.get(nodeKey(node)) === node) this.nodes.delete(nodeKey(node));
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer with cluster_state:ok within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      });
      await Promise.race([cluster.connect(), timeout]);
      // Node connections open lazily; a command for a master not yet connected would be refused.
      await Promise.race([Promise.all(cluster.nodes("master").map((node) => (node.status === "wait" ? node.connect() : undefined))), timeout]);
    } catch (error) {
      await this.close();
      throw new Error(`cannot reach the Redis Cluster at ${this.seedUrls.map(redactUrl).join(", ")}: ${lastError || (error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    this.knownSlots = this.slotMap();
    cluster.on("ready", () => events.up());
    cluster.on("close", () => events.down());
    cluster.on("refresh", () => {
      for (const node of cluster.nodes("master")) if (node.status === "wait") node.connect().catch(() => undefined);
      const slots = this.slotMap();
      if (slots === this.knownSlots) return;
      this.knownSlots = slots;
      events.moved();
    });
  }

  async close(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    this.nodes.clear();
    await cluster?.quit().catch(() => cluster.disconnect());
  }

  commandsFor(channel: string): RedisCommands {
    const cluster = this.cluster;
    if (cluster?.status !== "ready") throw unreachable("the Redis Cluster is not reachable");
    const slot = this.slotOf(channel);
    const server = cluster.slots[slot]?.[0];
    const node = server === undefined ? undefined : this.nodes.get(server);
    if (node?.status !== "ready") {
      if (node?.status === "wait") node.connect().catch(() => undefined);
      else if (node === undefined) this.refresh();
      throw unreachable(`the Redis Cluster master for slot ${slot} (${server ?? "none known"}) is not reachable`);
    }
    return cluster;
  }

  serverOf(channel: string): string {
    return this.cluster?.slots[this.slotOf(channel)]?.[0] ?? "none";
  }

  servers(): ReadonlyMap<string, string> {
    const servers = new Map<string, string>();
    for (const owners of this.cluster?.slots ?? []) {
      const server = owners?.[0];
      if (server !== undefined && !servers.has(server)) servers.set(server, this.urlOf(server));
    }
    return servers;
  }

  everyServer(): RedisCommands[] {
    return this.cluster ? [this.cluster] : [];
  }

  get reachable(): boolean {
    return this.cluster?.status === "ready";
  }

  refresh(): void {
    this.cluster?.refreshSlotsCache();
  }

  describe(): Record<string, unknown> {
    return { cluster: this.seedUrls.map(redactUrl), masters: [...this.servers().keys()].sort() };
  }

  addressOf(server: string): string {
    return server;
  }

  private slotOf(channel: string): number {
    return hashSlot(`${this.prefix}{${channel}}`);
  }

  /** The slot ranges and the master of each, e.g. "0-5460 127.0.0.1:7000,5461-10922 127.0.0.1:7001". */
  private slotMap(): string {
    const ranges: string[] = [];
    const slots = this.cluster?.slots ?? [];
    let start = 0;
    for (let slot = 1; slot <= slots.length; slot++) {
      if (slot < slots.length && slots[slot]?.[0] === slots[start]?.[0]) continue;
      ranges.push(`${start}-${slot - 1} ${slots[start]?.[0] ?? "none"}`);
      start = slot;
    }
    return ranges.join(",");
  }

  /** A URL for a subscriber connection to one master, with the cluster's credentials. */
  private urlOf(server: string): string {
    const colon = server.lastIndexOf(":");
    const host = server.slice(0, colon);
    const credentials =
      this.address.password === undefined ? "" : `${encodeURIComponent(this.address.username ?? "")}:${encodeURIComponent(this.address.password)}@`;
    return `${this.address.tls ? "rediss" : "redis"}://${credentials}${host.includes(":") ? `[${host}]` : host}:${server.slice(colon + 1)}`;
  }
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** Seed addresses and the credentials they share; a cluster has only database 0. */
/** The seeds, credentials and TLS of a cluster from its seed URLs; throws on a URL a cluster cannot use. */
export function parseSeeds(urls: readonly string[]): ClusterAddress {
  if (urls.length === 0) throw new Error("a Redis Cluster needs at least one seed URL");
  const parsed = urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`${JSON.stringify(redactUrl(text))} is not a Redis URL`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new Error(`${redactUrl(text)}: a Redis Cluster seed is a redis:// or rediss:// URL`);
    if (url.pathname !== "" && url.pathname !== "/" && url.pathname !== "/0") throw new Error(`${redactUrl(text)}: a Redis Cluster has only database 0`);
    return url;
  });
  const first = parsed[0]!;
  if (parsed.some((url) => url.protocol !== first.protocol)) throw new Error("Redis Cluster seeds mix redis:// and rediss://");
  return {
    seeds: parsed.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 6379) })),
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    tls: first.protocol === "rediss:",
  };
}
