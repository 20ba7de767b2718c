/**
 * Three Herald nodes (child processes started with the CLI) on one Redis act as one hub:
 * cross-node delivery and order, recovery on another node, a node killed mid-stream, and a node
 * cut off from Redis mid-stream. Each node reaches Redis through its own TCP proxy, so the test
 * can cut one node off while Redis keeps serving the others.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { getJson, postJson } from "./support/herald.js";
import { startNodeProcess, type NodeProcess } from "./support/node-process.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "./support/redis.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

// 300 keeps the suite light on a shared 2-core machine; HERALD_TEST_SUBSCRIBERS=1000 runs the full-size case.
const SUBSCRIBERS = Number(process.env.HERALD_TEST_SUBSCRIBERS ?? 300);
const progress = new EventEmitter().setMaxListeners(0);

/** Resolves once `condition` holds, re-checked whenever a follower makes progress. */
function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!condition()) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    // Progress events drive the checks; the interval only covers conditions outside the followers.
    const tick = setInterval(check, 50);
    const cleanup = (): void => {
      clearTimeout(timer);
      clearInterval(tick);
      progress.off("progress", check);
    };
    progress.on("progress", check);
    check();
  });
}

/** A subscriber that follows one channel, keeps every offset it got, and can resume elsewhere. */
class Follower {
  readonly offsets: number[] = [];
  epoch = "";
  socket: WebSocket | undefined;
  reconnects = 0;
  recoveredEvery = true;
  closeCodes: number[] = [];

  constructor(readonly channel: string) {}

  get last(): number {
    return this.offsets.at(-1) ?? 0;
  }

  /** Connects to a node and subscribes, resuming after the last offset once it has a position. */
  connect(wsUrl: string): Promise<void> {
    const socket = new WebSocket(`${wsUrl}/ws`);
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.on("error", reject);
      socket.on("open", () => {
        const since = this.epoch ? { since: { epoch: this.epoch, offset: this.last } } : {};
        socket.send(JSON.stringify({ type: "subscribe", channel: this.channel, ...since }));
      });
      socket.on("message", (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; epoch?: string; offset?: number; recovered?: boolean };
        if (frame.type === "subscribed") {
          if (this.epoch && !frame.recovered) this.recoveredEvery = false;
          this.epoch = frame.epoch!;
          resolve();
        } else if (frame.type === "tick") {
          this.offsets.push(frame.offset!);
          progress.emit("progress");
        } else if (frame.type === "error") {
          reject(new Error(JSON.stringify(frame)));
        }
      });
      socket.on("close", (code) => {
        this.closeCodes.push(code);
        progress.emit("progress");
      });
    });
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.socket?.terminate();
  }
}

/** Polls a node's /readyz until it answers `status` (readiness changes are not pushed anywhere). */
async function healthOf(node: NodeProcess, status: number, timeoutMs = 15_000): Promise<{ status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await getJson(`${node.url}/readyz`);
    if (answer.status === status) return answer.body;
    if (Date.now() > deadline) throw new Error(`${node.name} /readyz stayed ${answer.status}, expected ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe("three nodes on one Redis", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("cluster");
  const nodes: NodeProcess[] = [];
  const proxies: TcpProxy[] = [];
  const followers: Follower[] = [];
  const target = new URL(REDIS_URL);

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
      proxies.push(proxy);
      const url = new URL(REDIS_URL);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port);
      nodes.push(await startNodeProcess(`node-${i}`, { HERALD_ENGINE: "redis", REDIS_URL: url.toString(), HERALD_REDIS_PREFIX: prefix }));
    }
  });

  after(async () => {
    for (const follower of followers) follower.close();
    await Promise.all(nodes.map((node) => node.kill()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await deleteKeys(prefix);
  });

  const channel = (label: string): string => `${label}:${randomBytes(4).toString("hex")}`;
  const follow = async (ch: string, node: NodeProcess): Promise<Follower> => {
    const follower = new Follower(ch);
    followers.push(follower);
    await follower.connect(node.wsUrl);
    return follower;
  };
  const publish = (node: NodeProcess, ch: string, data: unknown) => postJson(`${node.url}/api/publish`, { channel: ch, type: "tick", data });

  it("delivers events published on any node to subscribers on every node, in one order", async () => {
    const ch = channel("order");
    const watchers = await Promise.all(nodes.flatMap((node) => [follow(ch, node), follow(ch, node)]));
    await Promise.all(
      nodes.map(async (node) => {
        for (let i = 0; i < 20; i++) assert.equal((await publish(node, ch, { from: node.name, i })).status, 200);
      }),
    );
    await until("60 events on every watcher", () => watchers.every((w) => w.offsets.length >= 60));
    for (const watcher of watchers) assert.deepEqual(watcher.offsets, range(60));
    // History asked of one node holds every node's events, at the offsets the watchers saw, each
    // node's 20 in the order it published them.
    const history = await getJson(`${nodes[1]!.url}/api/history?channel=${encodeURIComponent(ch)}&limit=100`);
    assert.equal(history.status, 200);
    const events = history.body.events as Array<{ offset: number; data: { from: string; i: number } }>;
    assert.deepEqual(events.map((e) => e.offset), range(60));
    for (const node of nodes) assert.deepEqual(events.filter((e) => e.data.from === node.name).map((e) => e.data.i), range(20).map((n) => n - 1), node.name);
    for (const watcher of watchers) watcher.close();
  });

  it("lets a client that reconnects to another node recover with since", async () => {
    const ch = channel("move");
    const mover = await follow(ch, nodes[0]!);
    for (let i = 0; i < 5; i++) await publish(nodes[0]!, ch, i);
    await until("5 events", () => mover.offsets.length === 5);
    mover.close();
    for (let i = 5; i < 10; i++) await publish(nodes[1]!, ch, i);
    await mover.connect(nodes[2]!.wsUrl);
    await until("10 events", () => mover.offsets.length >= 10);
    assert.deepEqual(mover.offsets, range(10));
    assert.equal(mover.recoveredEvery, true);
    mover.close();
  });

  it("refuses publishes on a node cut off from Redis with 503 engine_unavailable, and loses no accepted event", async () => {
    const ch = channel("cut");
    const watchers = await Promise.all(nodes.flatMap((node) => [follow(ch, node), follow(ch, node)]));
    const [healthy, cut] = [nodes[0]!, nodes[1]!];
    let accepted = 0;
    const refusals: Array<{ status: number; code: string }> = [];
    const publishBoth = async (round: number): Promise<void> => {
      for (const node of [healthy, cut]) {
        const answer = await publish(node, ch, { round, node: node.name });
        if (answer.status === 200) accepted += 1;
        else refusals.push({ status: answer.status, code: answer.body?.error?.code });
      }
    };
    for (let round = 0; round < 10; round++) await publishBoth(round);
    proxies[1]!.cut();
    const health = await healthOf(cut, 503);
    assert.equal(health.status, "engine_unavailable");
    // Liveness is not readiness: the node still answers /healthz, so no orchestrator restarts it.
    assert.equal((await getJson(`${cut.url}/healthz`)).status, 200);
    for (let round = 10; round < 20; round++) await publishBoth(round);
    assert.ok(refusals.length >= 10, `node-1 refused its publishes while cut off (${refusals.length} refusals)`);
    assert.ok(refusals.every((r) => r.status === 503 && r.code === "engine_unavailable"), JSON.stringify(refusals.slice(0, 3)));
    proxies[1]!.restore();
    await healthOf(cut, 200);
    for (let round = 20; round < 30; round++) await publishBoth(round);
    await until(`${accepted} events on every watcher`, () => watchers.every((w) => w.offsets.length >= accepted));
    for (const watcher of watchers) assert.deepEqual(watcher.offsets, range(accepted), "every accepted event, once, in order, on every node");
    for (const watcher of watchers) watcher.close();
  });

  it(`loses no event when a node is killed under ${SUBSCRIBERS} subscribers who resume on the survivors`, async () => {
    const ch = channel("kill");
    const crowd: Follower[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      crowd.push(...(await Promise.all(range(Math.min(50, SUBSCRIBERS - i)).map((_, k) => follow(ch, nodes[(i + k) % 3]!)))));
    }
    const victim = nodes[2]!;
    const survivors = [nodes[0]!, nodes[1]!];
    const total = 60;
    let published = 0;
    const started = Date.now();
    const publisher = (async () => {
      while (published < total) {
        const answer = await publish(survivors[published % 2]!, ch, published);
        assert.equal(answer.status, 200);
        published += 1;
      }
    })();
    await until("20 events out", () => published >= 20);
    await victim.kill("SIGKILL");
    await until("the victim's subscribers to notice", () => crowd.filter((f) => f.closeCodes.length > 0).length >= Math.floor(SUBSCRIBERS / 3));
    const dropped = crowd.filter((f) => f.closeCodes.length > 0);
    await Promise.all(dropped.map((follower, i) => follower.connect(survivors[i % 2]!.wsUrl)));
    await publisher;
    await until(`${total} events on every subscriber`, () => crowd.every((f) => f.offsets.length >= total), 60_000);
    const elapsed = Date.now() - started;
    for (const follower of crowd) assert.deepEqual(follower.offsets, range(total));
    assert.ok(dropped.every((f) => f.recoveredEvery), "every resumed subscription was recovered");
    console.log(`# ${SUBSCRIBERS} subscribers, ${dropped.length} resumed on survivors, ${total} events, 0 lost, ${elapsed} ms`);
    for (const follower of crowd) follower.close();
  });
});
