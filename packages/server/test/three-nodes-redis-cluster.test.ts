/**
 * Three Herald nodes on a real 3-master Redis Cluster of this test's own (no replicas: a killed
 * master's slots come back when it does, from its append-only file). The nodes reach the masters
 * directly: a cluster tells its clients its nodes' own addresses, so per-node proxies cannot stand
 * in between, and the cut-off-node case is left to the other layouts.
 */

import { RedisCluster, redisClusterSkip } from "./support/redis-cluster.js";
import { runThreeNodeSuite } from "./three-nodes-suite.js";

let cluster: RedisCluster | undefined;

runThreeNodeSuite({
  name: "a 3-master Redis Cluster",
  skip: redisClusterSkip(),
  proxied: false,
  start: async () => {
    cluster = await RedisCluster.start();
    return cluster.servers.map((server) => ({ host: "127.0.0.1", port: server.port }));
  },
  env: (addresses, prefix) => ({ HERALD_REDIS_CLUSTER: addresses.map(({ host, port }) => `redis://${host}:${port}`).join(","), HERALD_REDIS_PREFIX: prefix }),
  serverOf: async (channel, prefix) => cluster!.servers.indexOf(await cluster!.masterOf(`${prefix}{${channel}}:meta`)),
  kill: (server) => cluster!.servers[server]!.stop("SIGKILL"),
  restart: async (server) => {
    await cluster!.servers[server]!.restart();
    await cluster!.settled();
  },
  close: async () => {
    await cluster?.close();
  },
});
