/**
 * Churn soak (issue 24): many short-lived clients connect, subscribe and leave (cleanly or with
 * their socket destroyed) while events are published, next to a few long-lived subscribers; then
 * everything stops and, after a quiet period, the node must hold nothing: connections,
 * subscriptions, channels and users at 0 on every engine. Not part of the test run:
 *
 *   npm run soak                                  # both engines, 150 s churn + 60 s quiet each
 *   npm run soak -- --engine redis --churn 120 --quiet 30
 *
 * The Redis engine uses REDIS_URL (default redis://127.0.0.1:6379) under a unique key prefix,
 * deleted at the end. Prints one JSON line per engine and exits 1 when anything is left.
 */

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { createHerald, type Herald } from "@herald/server";

const { values: args } = parseArgs({
  options: {
    engine: { type: "string", default: "memory,redis" },
    churn: { type: "string", default: "150" },
    quiet: { type: "string", default: "60" },
    clients: { type: "string", default: "1500" },
    rate: { type: "string", default: "100" },
    publishes: { type: "string", default: "500" },
  },
});
const CHURN_S = Number(args.churn);
const QUIET_S = Number(args.quiet);
const TARGET_CLIENTS = Number(args.clients);
const CONNECTS_PER_S = Number(args.rate);
const PUBLISHES_PER_S = Number(args.publishes);
const CHANNEL_NAMES = 20_000;
const LONG_LIVED = 20;
const SECRET = "soak-secret-0123456789abcdef";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** A client lives about as long as it takes to cycle the whole population once. */
const LIFETIME_MS = (TARGET_CLIENTS / CONNECTS_PER_S) * 1000;

const users = await Promise.all(
  Array.from({ length: 200 }, (_, i) => new SignJWT({ sub: `user-${i}` }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("2h").sign(new TextEncoder().encode(SECRET))),
);
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const randomChannels = (): string[] => Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => `soak:${Math.floor(Math.random() * CHANNEL_NAMES)}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Tally {
  connects: Record<"websocket" | "sse" | "polling", number>;
  destroyed: number;
  slowConsumers: number;
  errors: number;
  published: number;
  publishFailures: number;
  longLivedEvents: number;
  longLivedGaps: number;
}

interface Figures {
  connections: number;
  subscriptions: number;
  channels: number;
  users: number;
}

async function soak(engineName: "memory" | "redis"): Promise<Record<string, unknown> & { afterQuiet: Figures }> {
  const prefix = `herald-soak:${randomBytes(4).toString("hex")}:`;
  const herald: Herald = await createHerald({
    config: {
      logLevel: "silent",
      auth: { jwt: { secret: SECRET } },
      namespaces: { soak: { presence: true, history: { size: 100, ttl: "2m" } } },
      limits: { connectionRatePerIp: 10_000, connectionBurstPerIp: 10_000 },
      engine: engineName === "redis" ? { type: "redis", redisUrl: REDIS_URL, prefix } : { type: "memory" },
    },
  });
  await herald.listen({ port: 0, host: "127.0.0.1" });
  const http = `http://127.0.0.1:${herald.port}`;
  const ws = `ws://127.0.0.1:${herald.port}`;
  const tally: Tally = { connects: { websocket: 0, sse: 0, polling: 0 }, destroyed: 0, slowConsumers: 0, errors: 0, published: 0, publishFailures: 0, longLivedEvents: 0, longLivedGaps: 0 };
  const live = new Set<() => void>();
  let churning = true;

  const webSocketClient = (lifetime: number, slow: boolean): void => {
    tally.connects.websocket += 1;
    const socket = new WebSocket(`${ws}/ws?token=${pick(users)}`);
    socket.on("error", () => (tally.errors += 1));
    socket.on("close", (code) => {
      if (code === 4008) tally.slowConsumers += 1;
      live.delete(end);
    });
    socket.on("open", () => {
      const channels = slow ? ["soak:hot"] : randomChannels();
      for (const channel of channels) socket.send(JSON.stringify({ type: "subscribe", channel }));
      // A slow consumer stops reading: its send queue grows until the server cuts it (4008).
      if (slow) (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    });
    const destroy = Math.random() < 0.3;
    const end = (): void => {
      if (destroy) {
        tally.destroyed += 1;
        socket.terminate();
      } else socket.close();
    };
    live.add(end);
    setTimeout(() => live.has(end) && (live.delete(end), end()), lifetime);
  };

  const sseClient = (lifetime: number): void => {
    tally.connects.sse += 1;
    const abort = new AbortController();
    const query = randomChannels().map((c) => `channel=${c}`).join("&");
    const end = (): void => {
      tally.destroyed += 1;
      abort.abort();
    };
    live.add(end);
    void fetch(`${http}/sse?${query}&token=${pick(users)}`, { signal: abort.signal })
      .then(async (response) => {
        for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>);
      })
      .catch(() => undefined)
      .finally(() => live.delete(end));
    setTimeout(() => live.has(end) && (live.delete(end), end()), lifetime);
  };

  const pollingClient = (lifetime: number): void => {
    tally.connects.polling += 1;
    const abort = new AbortController();
    const query = randomChannels().map((c) => `channel=${c}`).join("&");
    const token = pick(users);
    const end = (): void => {
      tally.destroyed += 1;
      abort.abort();
    };
    live.add(end);
    void (async () => {
      let since = "";
      while (!abort.signal.aborted) {
        const response = await fetch(`${http}/api/updates?${query}&timeout=5s&token=${token}${since ? `&since=${since}` : ""}`, { signal: abort.signal });
        const body = (await response.json()) as { cursor?: string };
        if (!response.ok || !body.cursor) throw new Error(`poll answered ${response.status}`);
        since = body.cursor;
      }
    })()
      .catch(() => undefined)
      .finally(() => live.delete(end));
    setTimeout(() => live.has(end) && (live.delete(end), end()), lifetime);
  };

  // 20 subscribers that never churn; each checks that offsets of its channels only ever grow by 1.
  const longLived = Array.from({ length: LONG_LIVED }, (_, i) => {
    const socket = new WebSocket(`${ws}/ws?token=${users[i]}`);
    const last = new Map<string, string>();
    socket.on("open", () => {
      for (const channel of [`soak:${i}`, "soak:hot"]) socket.send(JSON.stringify({ type: "subscribe", channel }));
    });
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; channel?: string; epoch?: string; offset?: number };
      if (frame.type === "subscribed" && frame.channel) last.set(frame.channel, `${frame.epoch}:${frame.offset}`);
      if (frame.offset === undefined || frame.type === "subscribed" || !frame.channel) return;
      const [epoch, offset] = (last.get(frame.channel) ?? ":").split(":");
      if (epoch === frame.epoch && Number(offset) + 1 !== frame.offset) tally.longLivedGaps += 1;
      last.set(frame.channel, `${frame.epoch}:${frame.offset}`);
      tally.longLivedEvents += 1;
    });
    return socket;
  });

  const started = Date.now();
  const hotPayload = { blob: "x".repeat(2_000) };
  const publisher = (async () => {
    while (churning) {
      const tick = Date.now();
      const batch = Math.round(PUBLISHES_PER_S / 10);
      await Promise.all(
        Array.from({ length: batch }, (_, k) => {
          const hot = k % 10 === 0;
          return herald
            .publish(hot ? "soak:hot" : `soak:${Math.floor(Math.random() * CHANNEL_NAMES)}`, "tick", hot ? hotPayload : { at: tick })
            .then(() => (tally.published += 1), () => (tally.publishFailures += 1));
        }),
      );
      await sleep(Math.max(0, 100 - (Date.now() - tick)));
    }
  })();
  let peak = 0;
  while (Date.now() - started < CHURN_S * 1000) {
    const tick = Date.now();
    for (let i = 0; i < CONNECTS_PER_S / 10; i++) {
      const lifetime = LIFETIME_MS * (0.5 + Math.random());
      const roll = Math.random();
      if (roll < 0.7) webSocketClient(lifetime, Math.random() < 0.02);
      else if (roll < 0.9) sseClient(lifetime);
      else pollingClient(lifetime);
    }
    peak = Math.max(peak, herald.hub.counts().connections);
    await sleep(Math.max(0, 100 - (Date.now() - tick)));
  }
  churning = false;
  await publisher;
  const atChurnEnd = herald.hub.counts();
  for (const end of [...live]) end();
  for (const socket of longLived) socket.close();
  await sleep(QUIET_S * 1000);

  const status = (await (await fetch(`${http}/api/status`, { headers: { authorization: `Bearer ${herald.adminToken}` } })).json()) as Figures & { engine: { details?: Record<string, unknown> } };
  const result = {
    engine: engineName,
    churnSeconds: CHURN_S,
    quietSeconds: QUIET_S,
    connects: tally.connects,
    peakConnections: peak,
    atChurnEnd: { connections: atChurnEnd.connections, subscriptions: atChurnEnd.subscriptions, channels: atChurnEnd.channels, users: atChurnEnd.users },
    destroyedOrAborted: tally.destroyed,
    slowConsumerCloses: tally.slowConsumers,
    published: tally.published,
    publishFailures: tally.publishFailures,
    longLived: { events: tally.longLivedEvents, gapsWithinEpoch: tally.longLivedGaps },
    afterQuiet: {
      connections: status.connections,
      subscriptions: status.subscriptions,
      channels: status.channels,
      users: status.users,
      engineChannels: status.engine.details?.channels,
      engineStreams: status.engine.details?.streams,
    },
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
  await herald.close();
  if (engineName === "redis") {
    const redis = new Redis(REDIS_URL);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
  }
  return result;
}

let leftovers = false;
for (const engine of String(args.engine).split(",") as Array<"memory" | "redis">) {
  const result = await soak(engine);
  console.log(JSON.stringify(result));
  const after = result.afterQuiet;
  if (after.connections !== 0 || after.subscriptions !== 0 || after.channels !== 0 || after.users !== 0) leftovers = true;
}
process.exit(leftovers ? 1 : 0);
