/**
 * Where the Redis engine's channels live and how it reaches them. Two layouts:
 * - independent Redis servers (redis-servers.ts): one, or several shards with each channel placed
 *   on one of them by consistent hashing;
 * - a Redis Cluster (redis-cluster.ts): each channel's keys share one hash slot, and the slot's
 *   master holds them.
 * Either way every key and the pub/sub topic of one channel live on one server, so the engine's
 * scripts stay atomic per channel and its order per channel holds. The engine asks the topology
 * which connection runs a channel's commands and which server carries its events; it keeps one
 * subscriber connection per server itself (redis-subscribers.ts).
 */

import type { Cluster, Redis, RedisOptions } from "ioredis";
import { ENGINE_UNAVAILABLE } from "./engine.js";
import { HeraldError } from "../shared/herald-error.js";

/** What runs a channel's commands: a connection to one Redis, or a cluster client that routes by slot. */
export type RedisCommands = Redis | Cluster;

export interface TopologyEvents {
  /** A command connection is ready (again): work that waited for it may go on. */
  up(): void;
  /** A command connection was lost. */
  down(): void;
  /** Channels may now live on other servers than before (a cluster failover or resharding). */
  moved(): void;
}

export interface RedisTopology {
  /** Connects the command side; rejects, naming what it could not reach, unless every server answered. */
  connect(events: TopologyEvents): Promise<void>;
  close(): Promise<void>;
  /**
   * The connection for a channel's commands. Throws engine_unavailable when the server holding the
   * channel cannot be reached now: a command refused here surely never left this node.
   */
  commandsFor(channel: string): RedisCommands;
  /** The name of the server whose pub/sub carries the channel's events. */
  serverOf(channel: string): string;
  /** Every server to keep a subscriber connection to: name → URL. */
  servers(): ReadonlyMap<string, string>;
  /** One command connection per independent server (a cluster counts as one), to ask what Redis supports. */
  everyServer(): RedisCommands[];
  /** Whether a command connection is up, so some channels can be served. */
  readonly reachable: boolean;
  /** A hint that the servers may have changed (a cluster node said a slot moved); answered with `moved` when they did. */
  refresh(): void;
  /** What /api/status shows of the layout (credentials removed). */
  describe(): Record<string, unknown>;
  /** The address a server name stands for, credentials removed. */
  addressOf(server: string): string;
}

/**
 * Options of every connection the engine opens. Commands fail at once while Redis is away
 * instead of queueing: a queued publish would be "accepted" by nobody, and a re-sent one could be
 * stored twice.
 */
export function connectionOptions(commandTimeoutMs: number, connectionName: string): RedisOptions {
  return {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(100 * times, 1_000),
    connectionName,
  };
}

export function unreachable(detail: string): HeraldError {
  return new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { detail });
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
