/**
 * `herald serve --workers 2`: two worker processes share the port through node:cluster and act as
 * one hub (the memory engine held by the primary). Real processes, real sockets: the README tour
 * across workers, figures summed over the workers, a worker killed under 300 subscribers with
 * nothing lost, and SIGTERM draining every worker with 1001.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { workerCount } from "../src/cluster/worker-count.js";
import { deadline, waitUntil } from "./support/deadline.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "./support/redis.js";
import { getJson, postJson, TestClient, type Frame } from "./support/herald.js";
import { startNodeProcess, type NodeProcess } from "./support/node-process.js";
import { SseReader } from "./support/sse.js";

// 300 keeps the suite light on a shared 2-core machine; HERALD_TEST_SUBSCRIBERS=1000 runs the full-size case.
const SUBSCRIBERS = Number(process.env.HERALD_TEST_SUBSCRIBERS ?? 300);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

interface WorkerFigures {
  node: string;
  connections: number;
  subscriptions: number;
  channels: number;
  users: number;
  events: { published: number; delivered: number };
}
interface Status extends WorkerFigures {
  workers: { count: number; missing: number; totals: Omit<WorkerFigures, "node"> & { transports: { polling: { connections: number } } }; nodes: WorkerFigures[] };
}

/** Each worker's process id by node name, from the ready banner's Workers line. */
function workerPids(node: NodeProcess): Map<string, number> {
  const line = /Workers +(.*)/.exec(node.output())?.[1] ?? "";
  return new Map([...line.matchAll(/(\S+) \(pid (\d+)\)/g)].map((match) => [match[1]!, Number(match[2])]));
}

/** Opens a WebSocket and waits for its `connected` frame, which names the worker it reached. */
async function connect(url: string): Promise<{ client: TestClient; node: string }> {
  const client = await TestClient.open(url);
  const connected = await client.next("connected");
  return { client, node: connected.node as string };
}

describe("herald serve --workers 2", () => {
  let hub: NodeProcess;
  let configDir: string;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), "herald-workers-"));
    const configFile = join(configDir, "herald.json");
    // A route that names its connection's user, so that users can be counted across workers.
    writeFileSync(configFile, JSON.stringify({ routes: [{ path: "/as/{user}", params: { user: { pattern: "^[a-z]+$" } }, subscribe: ["user:{user}"], user: "user" }] }));
    hub = await startNodeProcess("workers", { HERALD_CONFIG: configFile }, 60_000, ["--workers", "2"]);
  });

  after(async () => {
    await hub?.kill("SIGKILL");
    rmSync(configDir, { recursive: true, force: true });
  });

  const status = async (): Promise<Status> => (await getJson(`${hub.url}/api/status`)).body as Status;

  it("says how many workers serve in its ready banner, each with its node name and process id", () => {
    assert.match(hub.output(), /Herald ready on http:\/\/127\.0\.0\.1:\d+ \(2 workers, engine memory, held by the primary process\)/);
    assert.deepEqual([...workerPids(hub).keys()], ["workers-w1", "workers-w2"]);
  });

  it("shows on any worker its own figures and the totals of both: counts summed, users and channels counted once", async () => {
    // Consecutive connections alternate between the workers; alice lands on both, bob on one at least.
    const opened: Array<{ client: TestClient; node: string; user: string }> = [];
    for (const user of ["alice", "alice", "alice", "bob", "bob"]) {
      const { client, node } = await connect(`${hub.wsUrl}/as/${user}`);
      await client.next("subscribed");
      opened.push({ client, node, user });
    }
    const nodes = [...new Set(opened.map((each) => each.node))].sort();
    assert.deepEqual(nodes, ["workers-w1", "workers-w2"], "connections reached both workers");
    await postJson(`${hub.url}/api/publish`, { channel: "user:alice", type: "note", data: 1 });
    for (const each of opened.filter((o) => o.user === "alice")) await each.client.next("note");

    const answer = await status();
    const { totals } = answer.workers;
    assert.equal(answer.workers.count, 2);
    assert.equal(answer.workers.missing, 0);
    assert.deepEqual(answer.workers.nodes.map((n) => n.node), nodes);
    for (const node of nodes) {
      const mine = opened.filter((o) => o.node === node);
      const figures = answer.workers.nodes.find((n) => n.node === node)!;
      assert.equal(figures.connections, mine.length, node);
      assert.equal(figures.subscriptions, mine.length, node);
      assert.equal(figures.users, new Set(mine.map((o) => o.user)).size, node);
      assert.equal(figures.events.delivered, mine.filter((o) => o.user === "alice").length, node);
    }
    const each = answer.workers.nodes;
    assert.equal(totals.connections, 5);
    assert.equal(totals.connections, sum(each.map((n) => n.connections)));
    assert.equal(totals.subscriptions, sum(each.map((n) => n.subscriptions)));
    assert.equal(totals.events.delivered, 3);
    assert.equal(totals.events.delivered, sum(each.map((n) => n.events.delivered)));
    assert.equal(totals.events.published, sum(each.map((n) => n.events.published)));
    assert.equal(totals.users, 2, "alice on both workers is one user");
    assert.equal(totals.channels, 2, "user:alice held by both workers is one channel");
    // The worker that answered shows its own figures at the top, as a single process does.
    const self = each.find((n) => n.node === answer.node)!;
    assert.deepEqual({ connections: answer.connections, users: answer.users, channels: answer.channels }, { connections: self.connections, users: self.users, channels: self.channels });

    // A scrape reaches one worker, and sees every worker's series.
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    for (const node of nodes) assert.match(metrics, new RegExp(`herald_connections\\{transport="websocket",node="${node}"\\} \\d+`));

    await Promise.all(opened.map((o) => o.client.close()));
    await waitUntil("every connection to leave the totals", async () => (await status()).workers.totals.connections === 0);
  });

  it("serves the README tour: WebSocket, HTTP publish, SSE, polling, and recovery with since on the other worker", async () => {
    const channel = `user:${randomBytes(4).toString("hex")}`;
    const first = await connect(`${hub.wsUrl}/ws`);
    const subscribed = await first.client.subscribe(channel);
    assert.deepEqual([subscribed.type, subscribed.offset, subscribed.recovered], ["subscribed", 0, false]);
    const publish = async (total: number): Promise<void> => {
      const answer = await postJson(`${hub.url}/api/publish`, { channel, type: "balance_update", data: { total } });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    };
    await publish(100);
    const live = await first.client.next("balance_update");
    assert.deepEqual([live.offset, live.data], [1, { total: 100 }]);
    await first.client.close();
    await publish(110);
    await publish(120);

    // Reconnect until the connection lands on the other worker, and resume there.
    let other: { client: TestClient; node: string } | undefined;
    const strays: TestClient[] = [];
    while (!other) {
      const attempt = await connect(`${hub.wsUrl}/ws`);
      if (attempt.node === first.node) strays.push(attempt.client);
      else other = attempt;
      assert.ok(strays.length < 5, "new connections never reached the other worker");
    }
    await Promise.all(strays.map((stray) => stray.close()));
    const resumed = await other.client.subscribe(channel, { since: { epoch: subscribed.epoch, offset: 1 } });
    assert.equal(resumed.recovered, true);
    const missed = await other.client.take(2, "balance_update");
    assert.deepEqual(missed.map((event: Frame) => [event.offset, (event.data as { total: number }).total]), [[2, 110], [3, 120]]);

    const sse = await SseReader.open(`${hub.url}/sse?channel=${channel}`);
    await sse.waitFor("subscribed");
    await publish(130);
    assert.deepEqual((await other.client.next("balance_update")).offset, 4);
    const [streamed] = await sse.waitFor("balance_update");
    assert.deepEqual([streamed!.data.offset, streamed!.data.data], [4, { total: 130 }]);
    sse.close();

    const polled = await getJson(`${hub.url}/api/updates?channel=${channel}`);
    assert.equal(polled.status, 200);
    assert.deepEqual(polled.body.updates.map((update: Frame) => update.offset), [1, 2, 3, 4]);
    // The next long-poll, from the cursor, waits on whichever worker it reached for the next event.
    const waiting = getJson(`${hub.url}/api/updates?channel=${channel}&since=${polled.body.cursor}&timeout=25s`);
    await waitUntil("the long-poll to wait on a worker", async () => (await status()).workers.totals.transports.polling.connections >= 1);
    await publish(140);
    const next = await waiting;
    assert.deepEqual(next.body.updates.map((update: Frame) => [update.offset, update.data]), [[5, { total: 140 }]]);
    await other.client.close();
  });

  it(`loses no event when a worker is killed under ${SUBSCRIBERS} subscribers, who resume on the other; the worker is replaced`, async () => {
    const channel = `kill:${randomBytes(4).toString("hex")}`;
    const crowd: Follower[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      crowd.push(...(await Promise.all(range(1, Math.min(50, SUBSCRIBERS - i)).map(() => Follower.start(hub.wsUrl, channel)))));
    }
    const byNode = (node: string) => crowd.filter((follower) => follower.nodes[0] === node);
    assert.ok(byNode("workers-w1").length > 0 && byNode("workers-w2").length > 0, "the subscribers are spread over both workers");
    const victim = workerPids(hub).get("workers-w1")!;
    const total = 60;
    let published = 0;
    const publisher = (async () => {
      while (published < total) {
        await publishSurely(hub.url, channel, published + 1);
        published += 1;
      }
    })();
    await waitUntil("20 events out", () => published >= 20);
    process.kill(victim, "SIGKILL");
    await publisher;
    await waitUntil(`${total} events on every subscriber`, () => crowd.every((f) => f.offsets.length >= total), 60_000, () => `${crowd.filter((f) => f.offsets.length < total).length} behind`);
    for (const follower of crowd) assert.deepEqual(follower.offsets, range(1, total), "every event once, in order");
    const moved = crowd.filter((follower) => follower.nodes.length > 1);
    assert.ok(moved.length >= byNode("workers-w1").length, `${moved.length} subscribers resumed after the kill`);
    assert.ok(moved.every((follower) => follower.recoveredEvery), "every resumed subscription was recovered");
    assert.match(hub.output(), /"msg":"worker 1 exited; starting a replacement"/);

    // The replacement joins under the same name; the dead worker's figures are gone from the totals.
    await waitUntil("the replacement to answer surveys", async () => (await status()).workers.count === 2, 30_000);
    const after = await status();
    assert.equal(after.workers.totals.connections, SUBSCRIBERS);
    assert.equal(sum(after.workers.nodes.map((n) => n.connections)), SUBSCRIBERS);
    console.log(`# ${SUBSCRIBERS} subscribers, ${moved.length} resumed after the kill, ${total} events, 0 lost`);
    for (const follower of crowd) follower.close();
    await waitUntil("the crowd to leave", async () => (await status()).workers.totals.connections === 0);
  });

  it("drains every worker on SIGTERM: each client is closed with 1001, and the primary exits 0", async () => {
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await connect(`${hub.wsUrl}/ws`));
    assert.equal(new Set(clients.map((c) => c.node)).size, 2, "clients on both workers");
    const pids = [...workerPids(hub).values()];
    await hub.kill("SIGTERM");
    for (const { client } of clients) assert.equal((await client.closed).code, 1001);
    assert.equal(hub.child.exitCode, 0, hub.output());
    assert.match(hub.output(), /SIGTERM received, draining 2 workers/);
    // The replaced worker's pid is not in the banner; every listed one is gone.
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), "worker process exited");
  });
});

describe("herald serve --workers 2, stopped twice", () => {
  let hub: NodeProcess | undefined;
  after(() => hub?.kill("SIGKILL"));

  it("exits at once on a second signal, killing a worker that has not finished draining", async () => {
    hub = await startNodeProcess("twice", {}, 60_000, ["--workers", "2"]);
    const [stuck, other] = [...workerPids(hub).values()] as [number, number];
    // A stopped worker cannot drain, so the first signal leaves the primary waiting for it.
    process.kill(stuck, "SIGSTOP");
    const exited = new Promise<number | null>((resolve) => hub!.child.once("exit", (code) => resolve(code)));
    hub.child.kill("SIGTERM");
    await waitUntil("the other worker to drain", () => !isRunning(other));
    assert.ok(isRunning(stuck));
    hub.child.kill("SIGTERM");
    assert.equal(await deadline(exited, "the primary to exit on the second signal", 5_000), 1);
    await waitUntil("the stuck worker to be killed", () => !isRunning(stuck));
    assert.match(hub.output(), /SIGTERM again, exiting now/);
  });
});

/** Whether a process exists (a zombie not yet reaped counts as gone: it can no longer run). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8").toString())?.[1];
  return state !== "Z";
}

describe("herald serve --workers on the Redis engine", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("workers");
  let hub: NodeProcess | undefined;
  after(async () => {
    await hub?.kill("SIGKILL");
    await deleteKeys(prefix);
  });

  it("runs each worker as an ordinary node: an event published on one reaches subscribers on the other", async () => {
    hub = await startNodeProcess("redis-workers", { HERALD_ENGINE: "redis", REDIS_URL, HERALD_REDIS_PREFIX: prefix, HERALD_WORKERS: "2" }, 60_000);
    assert.match(hub.output(), /\(2 workers, engine redis\)/);
    const channel = `user:${randomBytes(4).toString("hex")}`;
    const clients = [await connect(`${hub.wsUrl}/ws`), await connect(`${hub.wsUrl}/ws`)];
    assert.equal(new Set(clients.map((c) => c.node)).size, 2, "one client on each worker");
    for (const { client } of clients) await client.subscribe(channel);
    // Published through whichever worker the request reaches; each worker gets it from Redis.
    for (let n = 1; n <= 3; n++) assert.equal((await postJson(`${hub.url}/api/publish`, { channel, type: "tick", data: n })).status, 200);
    for (const { client } of clients) assert.deepEqual((await client.take(3, "tick")).map((frame) => frame.data), [1, 2, 3]);
    const answer = (await getJson(`${hub.url}/api/status`)).body as Status & { engine: { name: string } };
    assert.equal(answer.engine.name, "redis");
    assert.equal(answer.workers.totals.connections, 2);
    await Promise.all(clients.map(({ client }) => client.close()));
    await hub.kill("SIGTERM");
    assert.equal(hub.child.exitCode, 0, hub.output());
  });
});

describe("herald serve --workers: refusals", () => {
  it("reads a number or auto (one per core)", () => {
    assert.equal(workerCount(undefined), 1);
    assert.equal(workerCount("3"), 3);
    assert.equal(workerCount("auto", () => 16), 16);
    assert.throws(() => workerCount("0"), /at least 1, or auto/);
    assert.throws(() => workerCount("many"), /at least 1, or auto/);
  });

  it("refuses bridges with more than one worker: each would publish every upstream message again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-workers-"));
    try {
      const configFile = join(dir, "bridges.json");
      writeFileSync(configFile, JSON.stringify({ bridges: [{ name: "feed", url: "ws://127.0.0.1:9/feed", map: [{ match: { e: "x" }, channel: "feed:x", type: "x" }] }] }));
      const run = await runCli(["serve", "--workers", "2", "--port", "0", "--config", configFile]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /bridges run in one process: with --workers each worker would publish every upstream message again; use --workers 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 when its workers cannot listen, saying why", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const run = await runCli(["serve", "--workers", "2", "--port", String(port), "--host", "127.0.0.1"]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`herald: cannot start: .*port ${port} is in use`));
      assert.match(run.stderr, /worker \d exited \(code 1\) before it listened; stopping/);
    } finally {
      taken.close();
    }
  });
});

/** Runs the CLI to its exit (bounded), with its output. */
async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--conditions=herald-source", "--import", "tsx", "packages/server/src/cli.ts", ...args], {
    cwd: fileURLToPath(new URL("../../../", import.meta.url)),
    env: { ...process.env, HERALD_LOG_LEVEL: "warn" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = (await deadline(once(child, "exit"), () => `herald ${args.join(" ")} to exit; stdout: ${stdout} stderr: ${stderr}`, 60_000).finally(() => child.kill("SIGKILL"))) as [number | null];
  return { code, stdout, stderr };
}

/** A subscriber that reconnects by itself when its worker goes away, resuming with since. */
class Follower {
  readonly offsets: number[] = [];
  /** The worker of each connection, in order. */
  readonly nodes: string[] = [];
  recoveredEvery = true;
  private epoch = "";
  private socket: WebSocket | undefined;
  private closing = false;

  private constructor(
    private readonly wsUrl: string,
    private readonly channel: string,
  ) {}

  static async start(wsUrl: string, channel: string): Promise<Follower> {
    const follower = new Follower(wsUrl, channel);
    await follower.connect();
    return follower;
  }

  close(): void {
    this.closing = true;
    this.socket?.terminate();
  }

  private connect(): Promise<void> {
    const socket = new WebSocket(`${this.wsUrl}/ws`);
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.on("error", reject);
      socket.on("message", (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === "connected") {
          this.nodes.push(frame.node as string);
          const since = this.epoch ? { since: { epoch: this.epoch, offset: this.offsets.at(-1) ?? 0 } } : {};
          socket.send(JSON.stringify({ type: "subscribe", channel: this.channel, ...since }));
        } else if (frame.type === "subscribed") {
          if (this.epoch && !frame.recovered) this.recoveredEvery = false;
          this.epoch = frame.epoch as string;
          resolve();
        } else if (frame.type === "tick") {
          this.offsets.push(frame.offset as number);
        } else if (frame.type === "error") {
          reject(new Error(JSON.stringify(frame)));
        }
      });
      socket.on("close", () => {
        // As a client SDK does: come back (to whichever worker the port hands it) and resume.
        if (!this.closing) setTimeout(() => void this.connect().catch(() => undefined), 20 + Math.random() * 100);
      });
    });
  }
}

/** Publishes one event, retrying with its Idempotency-Key until the hub answers: a kill may cut a request. */
async function publishSurely(url: string, channel: string, n: number): Promise<void> {
  const key = `${channel}-${n}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const answer = await postJson(`${url}/api/publish`, { channel, type: "tick", data: n }, { "idempotency-key": key });
      if (answer.status === 200) return;
    } catch {
      // The connection went down with the worker; the key makes the retry safe.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`event ${n} was never accepted`);
}
