/**
 * Connections that go away while their subscriptions are being made leave nothing behind: no
 * channel held, no engine subscription, no presence entry (after the presence TTL), on both
 * engines, whichever transport (SSE, WebSocket frames, a WebSocket route, long-polling) made them.
 * And a long-poll answers `recovered` from the stream as it is when it answers.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { decodeCursor } from "@herald/protocol";
import { RedisEngine } from "../src/engine/redis.js";
import type { Engine } from "../src/engine/engine.js";
import { getJson, startHerald, type RunningHerald } from "./support/herald.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "./support/redis.js";

const SECRET = "disconnect-test-secret-0123456789";
const CLIENTS = 200;
const CHANNELS_PER_CLIENT = 5;
const PRESENCE_TTL_MS = 1_000;

const config = {
  auth: { jwt: { secret: SECRET } },
  namespaces: { room: { presence: true }, feed: { history: { size: 2 } } },
  routes: [{ path: "/live/{room}", subscribe: ["room:{room}:r1", "room:{room}:r2", "room:{room}:r3"], user: "room" }],
  limits: { maxConnectionsPerIp: 100_000, connectionRatePerIp: 100_000, connectionBurstPerIp: 100_000 },
};

const tokenFor = (user: string): Promise<string> =>
  new SignJWT({ sub: user }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

/** Polls `read` until `done` holds; fails with the last value after `timeoutMs`. */
async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `count` tasks, `width` at a time. */
async function inBatches(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += width) {
    await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => task(start + k)));
  }
}

interface EngineCase {
  name: string;
  skip: false | string;
  create(): { engine?: Engine; cleanup(): Promise<void>; pubsubTopics(): Promise<number> };
}

const cases: EngineCase[] = [
  { name: "memory", skip: false, create: () => ({ cleanup: async () => {}, pubsubTopics: async () => 0 }) },
  {
    name: "redis",
    skip: await redisSkip(),
    create: () => {
      const prefix = uniquePrefix("disconnect");
      const probe = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      return {
        engine: new RedisEngine({ url: REDIS_URL, prefix, presenceTtlMs: PRESENCE_TTL_MS }),
        // Channel topics (`<prefix>{channel}:events`) some connection of Redis still listens to,
        // sharded or classic; the node's control topics (`<prefix>{#control}…`) last as long as it runs.
        pubsubTopics: async () =>
          ((await probe.call("PUBSUB", "SHARDCHANNELS", `${prefix}{*}:events`)) as string[]).length + (await probe.pubsub("CHANNELS", `${prefix}{*}:events`)).length,
        cleanup: async () => {
          probe.disconnect();
          await deleteKeys(prefix);
        },
      };
    },
  },
];

for (const engineCase of cases) {
  describe(`connections that go away during their subscribe leave nothing behind (${engineCase.name} engine)`, { skip: engineCase.skip }, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    async function start(): Promise<{ hub: RunningHerald; run: string; pubsubTopics: () => Promise<number> }> {
      const made = engineCase.create();
      cleanups.push(made.cleanup);
      const hub = await startHerald(config, made.engine ? { engine: made.engine } : {});
      cleanups.push(() => hub.close());
      return { hub, run: randomBytes(3).toString("hex"), pubsubTopics: made.pubsubTopics };
    }

    /** Waits until the node holds nothing and every channel's presence is empty. */
    async function assertNothingLeft(hub: RunningHerald, channels: string[], pubsubTopics: () => Promise<number>): Promise<void> {
      const status = await eventually(
        "connections, subscriptions, channels and users",
        async () => {
          const { body } = await getJson(`${hub.url}/api/status`, hub.adminHeaders);
          return { connections: body.connections, subscriptions: body.subscriptions, channels: body.channels, users: body.users, engineChannels: body.engine.details.channels ?? 0 };
        },
        (s) => s.connections === 0 && s.subscriptions === 0 && s.channels === 0 && s.users === 0 && s.engineChannels === 0,
      );
      assert.deepEqual(status, { connections: 0, subscriptions: 0, channels: 0, users: 0, engineChannels: 0 });
      await eventually("pub/sub topics still listened to", pubsubTopics, (n) => n === 0);
      const token = await tokenFor("inspector");
      // Presence entries of gone connections are gone at once, or at the latest after the presence TTL.
      await eventually(
        "presence entries",
        async () => {
          let total = 0;
          await inBatches(channels.length, 50, async (i) => {
            total += (await getJson(`${hub.url}/api/presence?channel=${encodeURIComponent(channels[i]!)}&token=${token}`)).body.count;
          });
          return total;
        },
        (total) => total === 0,
        PRESENCE_TTL_MS + 10_000,
      );
    }

    it(`${CLIENTS} SSE clients that close right after the response headers`, async () => {
      const { hub, run, pubsubTopics } = await start();
      const channels: string[] = [];
      await inBatches(CLIENTS, 50, async (i) => {
        const mine = Array.from({ length: CHANNELS_PER_CLIENT }, (_, k) => `room:${run}:sse${i}:${k}`);
        channels.push(...mine);
        const abort = new AbortController();
        const query = mine.map((channel) => `channel=${encodeURIComponent(channel)}`).join("&");
        const response = await fetch(`${hub.url}/sse?${query}&token=${await tokenFor(`sse-${i}`)}`, { signal: abort.signal });
        assert.equal(response.status, 200);
        abort.abort();
      });
      await assertNothingLeft(hub, channels, pubsubTopics);
    });

    it(`${CLIENTS} WebSocket clients destroyed right after sending their subscribes, and route clients destroyed on open`, async () => {
      const { hub, run, pubsubTopics } = await start();
      const channels: string[] = [];
      await inBatches(CLIENTS, 50, async (i) => {
        const route = i % 4 === 0;
        const room = `${run}-ws${i}`;
        const mine = route ? ["r1", "r2", "r3"].map((r) => `room:${room}:${r}`) : Array.from({ length: CHANNELS_PER_CLIENT }, (_, k) => `room:${run}:ws${i}:${k}`);
        channels.push(...mine);
        const token = await tokenFor(`ws-${i}`);
        const socket = new WebSocket(route ? `${hub.wsUrl}/live/${room}?token=${token}` : `${hub.wsUrl}/ws?token=${token}`);
        socket.on("error", () => undefined);
        await new Promise<void>((resolve, reject) => {
          socket.once("open", () => {
            if (!route) for (const channel of mine) socket.send(JSON.stringify({ type: "subscribe", channel }));
            // No close frame: the socket is destroyed, as when a phone leaves the network.
            socket.terminate();
            resolve();
          });
          socket.once("unexpected-response", () => reject(new Error("upgrade refused")));
        });
      });
      await assertNothingLeft(hub, channels, pubsubTopics);
    });

    it(`${CLIENTS} long-poll clients that leave during their request`, async () => {
      const { hub, run, pubsubTopics } = await start();
      const channels: string[] = [];
      await inBatches(CLIENTS, 50, async (i) => {
        const mine = Array.from({ length: CHANNELS_PER_CLIENT }, (_, k) => `room:${run}:poll${i}:${k}`);
        channels.push(...mine);
        const abort = new AbortController();
        const query = mine.map((channel) => `channel=${encodeURIComponent(channel)}`).join("&");
        const request = fetch(`${hub.url}/api/updates?${query}&timeout=30s&token=${await tokenFor(`poll-${i}`)}`, { signal: abort.signal }).catch(() => undefined);
        // Leave at varying points: during authorisation, the engine subscribe, or the wait.
        await new Promise((resolve) => setTimeout(resolve, i % 10));
        abort.abort();
        await request;
      });
      // Well within the 30 s the long-polls asked to wait: they must end when their client leaves.
      await assertNothingLeft(hub, channels, pubsubTopics);
    });

    it("a long-poll with a cursor its stream no longer covers answers recovered: false, and skips nothing silently", async () => {
      const { hub, run } = await start();
      const channel = `feed:${run}`;
      const token = await tokenFor("poller");
      const poll = async (since: string | undefined, timeout?: string) => {
        const params = new URLSearchParams({ channel, token });
        if (since) params.set("since", since);
        if (timeout) params.set("timeout", timeout);
        return (await getJson(`${hub.url}/api/updates?${params}`)).body as { updates: Array<{ offset: number }>; cursor: string; count: number; recovered: boolean };
      };
      const start1 = await poll(undefined);
      await hub.herald.publish(channel, "tick", 1);
      const atOne = await poll(start1.cursor);
      assert.deepEqual(atOne.updates.map((u) => u.offset), [1]);
      // History keeps 2 events: after 5 publishes, offsets 2 and 3 are gone for a client at 1.
      for (let n = 2; n <= 5; n++) await hub.herald.publish(channel, "tick", n);

      const plain = await poll(atOne.cursor);
      assert.equal(plain.recovered, false);

      const waiting = poll(atOne.cursor, "5s");
      // Published while the long-poll may be waiting: if it waits, it must still not call this recovered.
      const published = hub.herald.publish(channel, "tick", 6);
      const long = await waiting;
      await published;
      assert.equal(long.recovered, false, "the cursor at offset 1 is outside history: the client must be told, whatever came while it waited");
      assert.deepEqual(long.updates, [], "no events after a gap: the client reloads from the new cursor");

      // From the cursor of that answer the client continues without a hole.
      const next = await poll(long.cursor);
      assert.equal(next.recovered, true);
      const from = decodeCursor(long.cursor)![channel]!.offset;
      const head = (await hub.herald.hub.history(channel, { limit: 1 })).offset;
      assert.deepEqual(next.updates.map((u) => u.offset), Array.from({ length: head - from }, (_, i) => from + 1 + i));
    });
  });
}
