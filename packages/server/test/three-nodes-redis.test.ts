/** Three Herald nodes on one Redis (the shared one at REDIS_URL), each behind proxies of its own. */

import { REDIS_URL, deleteKeys, redisSkip } from "./support/redis.js";
import { runThreeNodeSuite } from "./three-nodes-suite.js";

const target = new URL(REDIS_URL);

runThreeNodeSuite({
  name: "one Redis",
  skip: await redisSkip(),
  proxied: true,
  start: async () => [{ host: target.hostname, port: Number(target.port || 6379) }],
  env: ([address], prefix) => {
    const url = new URL(REDIS_URL);
    url.hostname = address!.host;
    url.port = String(address!.port);
    return { HERALD_REDIS_URL: url.toString(), HERALD_REDIS_PREFIX: prefix };
  },
  close: (prefix) => deleteKeys(prefix),
});
