/**
 * The engine contract as tests (see src/engine/engine.ts): every engine runs this one suite.
 * `runEngineSuite` is called by one test file per engine with a factory for that engine.
 */

import { after, afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Engine, EngineHandler, StreamEvent, StreamOptions } from "../../src/engine/engine.js";
import { waitUntil } from "../support/deadline.js";

export interface EngineSuiteOptions {
  /** Makes a new, not yet started engine. */
  create(): Engine;
  /** Whether engines made by `create` share their streams, as nodes of one cluster do. */
  shared: boolean;
  /** Runs once after the suite, e.g. to delete the keys the tests made. */
  cleanup?(): Promise<void>;
  /** Passed to describe(): a reason to skip the suite, or false. */
  skip?: false | string;
  /** The engine delivers pattern subscriptions, and so keeps the index of recent channels (channelsPublishedSince). */
  patterns?: boolean;
}

const KEEP: StreamOptions = { historySize: 100, historyTtlMs: 60_000 };

/** An engine under test with every event it delivered, and a way to wait for events. */
class Node {
  readonly events: StreamEvent[] = [];
  private waiters: Array<() => void> = [];
  /** Control requests this node handled, and how it answers them (tests may replace it). */
  readonly requests: unknown[] = [];
  answer: (request: unknown) => Promise<unknown> = async (request) => ({ node: this.name, request });
  readonly handler: EngineHandler = {
    onEvent: (event) => {
      this.events.push(event);
      for (const wake of this.waiters.splice(0)) wake();
    },
    onControl: (request) => {
      this.requests.push(request);
      return this.answer(request);
    },
  };
  constructor(
    readonly engine: Engine,
    readonly name: string,
  ) {}

  of(channel: string): StreamEvent[] {
    return this.events.filter((event) => event.channel === channel);
  }

  /** Waits until `count` events of `channel` arrived; fails after a generous deadline. */
  async waitFor(channel: string, count: number, timeoutMs = 10_000): Promise<StreamEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(channel).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${channel}: ${this.of(channel).length} of ${count} events arrived`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.of(channel);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function runEngineSuite(name: string, options: EngineSuiteOptions): void {
  describe(`engine contract: ${name}`, { skip: options.skip ?? false }, () => {
    const open: Node[] = [];
    let started = 0;
    const start = async (): Promise<Node> => {
      const node = new Node(options.create(), `node${++started}`);
      await node.engine.start(node.handler);
      open.push(node);
      return node;
    };
    // Channel names unique per test, so engines that share a backend never see another test's data.
    const channel = (label: string): string => `${label}:${randomBytes(4).toString("hex")}`;

    afterEach(async () => {
      await Promise.all(open.splice(0).map((node) => node.engine.close()));
    });
    after(async () => {
      await options.cleanup?.();
    });

    if (!options.patterns) {
      it("keeps no index of recent channels where it delivers no patterns: a publish writes nothing more", async () => {
        const { engine } = await start();
        const namespace = `idx${randomBytes(4).toString("hex")}`;
        const published = await engine.publish(`${namespace}:1`, "t", 1, KEEP);
        assert.deepEqual((await engine.channelsPublishedSince?.(`${namespace}:*`, published.time - 1)) ?? [], []);
      });
    } else {
      it("lists the channels matching a pattern published at or after a time, where history keeps events, for the history TTL", async () => {
        const { engine } = await start();
        const namespace = `idx${randomBytes(4).toString("hex")}`;
        const old = await engine.publish(`${namespace}:old`, "t", 1, KEEP);
        const since = await engine.publish(`${namespace}:new`, "t", 1, KEEP);
        const last = await engine.publish(`${namespace}:new`, "t", 2, KEEP);
        await engine.publish(`${namespace}:none`, "t", 1, { historySize: 0, historyTtlMs: 60_000 });
        await engine.publish(`other${namespace}:new`, "t", 1, KEEP);
        const listed = (pattern: string, time: number) => engine.channelsPublishedSince!(pattern, time).then((channels) => channels.sort());
        assert.deepEqual(await listed(`${namespace}:*`, old.time), [`${namespace}:new`, `${namespace}:old`]);
        assert.deepEqual(await listed(`${namespace}:n*`, since.time), [`${namespace}:new`]);
        assert.deepEqual(await listed(`${namespace}:*`, last.time + 1), []);
        const brief = `${namespace}b:1`;
        await engine.publish(brief, "t", 1, { historySize: 10, historyTtlMs: 200 });
        assert.deepEqual(await listed(`${namespace}b:*`, 0), [brief]);
        await waitUntil("the channel to leave the index with its history", async () => (await listed(`${namespace}b:*`, 0)).length === 0);
      });
    }

    it("assigns offsets 1, 2, 3… in one epoch, and position starts at offset 0", async () => {
      const { engine } = await start();
      const ch = channel("offsets");
      const before = await engine.position(ch, KEEP);
      assert.equal(before.offset, 0);
      const events = [];
      for (let i = 0; i < 5; i++) events.push(await engine.publish(ch, "tick", { i }, KEEP));
      assert.deepEqual(events.map((e) => e.offset), [1, 2, 3, 4, 5]);
      assert.ok(events.every((e) => e.epoch === before.epoch), "the epoch seen before publishing is the epoch of the events");
      assert.deepEqual(await engine.position(ch, KEEP), { epoch: before.epoch, offset: 5 });
    });

    it("gives concurrent publishes distinct consecutive offsets", async () => {
      const { engine } = await start();
      const ch = channel("concurrent");
      const events = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.publish(ch, "tick", i, KEEP)));
      assert.deepEqual(events.map((e) => e.offset).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it("stores a publish with an idempotency key once: a repeat (on any node) answers the first event and is not delivered again", async () => {
      const first = await start();
      // Nodes of one cluster share their records; a lone engine is its own "other node".
      const second = options.shared ? await start() : first;
      const ch = channel("idempotent");
      await second.engine.subscribe(ch);
      const key = { key: `order-${randomBytes(4).toString("hex")}`, ttlMs: 60_000 };
      const stored = await first.engine.publish(ch, "paid", { n: 1 }, KEEP, key);
      assert.equal(stored.replayed, false);
      const again = await second.engine.publish(ch, "paid", { n: 1 }, KEEP, key);
      assert.deepEqual({ epoch: again.epoch, offset: again.offset, time: again.time, replayed: again.replayed }, { epoch: stored.epoch, offset: stored.offset, time: stored.time, replayed: true });
      assert.deepEqual(await second.engine.recall(ch, key.key), { epoch: stored.epoch, offset: stored.offset, time: stored.time });
      assert.equal(await second.engine.recall(ch, "never-used"), undefined);
      // Concurrent repeats store nothing either; another key stores the next offset.
      const repeats = await Promise.all(Array.from({ length: 10 }, () => second.engine.publish(ch, "paid", { n: 1 }, KEEP, key)));
      assert.ok(repeats.every((event) => event.replayed && event.offset === stored.offset));
      const other = await first.engine.publish(ch, "paid", { n: 2 }, KEEP, { key: `${key.key}-b`, ttlMs: 60_000 });
      assert.equal(other.offset, stored.offset + 1);
      assert.deepEqual((await second.waitFor(ch, 2)).map((event) => event.data), [{ n: 1 }, { n: 2 }]);
      const history = await first.engine.history(ch, { since: 0 }, KEEP);
      assert.deepEqual(history.events.map((event) => event.offset), [1, 2]);
    });

    it("stores the first of two concurrent publishes with one idempotency key, and the other answers it", async () => {
      const { engine } = await start();
      const ch = channel("idempotent-race");
      const key = { key: "race", ttlMs: 60_000 };
      const [a, b] = await Promise.all([engine.publish(ch, "x", 1, KEEP, key), engine.publish(ch, "x", 1, KEEP, key)]);
      assert.deepEqual([a.replayed, b.replayed].sort(), [false, true]);
      assert.equal(a.offset, b.offset);
      assert.equal((await engine.position(ch, KEEP)).offset, 1);
    });

    it("answers a repeat with another body under one idempotency key as the first event: it stores and delivers nothing new", async () => {
      const first = await start();
      const second = options.shared ? await start() : first;
      const ch = channel("idempotent-other-body");
      await first.engine.subscribe(ch);
      const key = { key: "one-event", ttlMs: 60_000 };
      const stored = await first.engine.publish(ch, "paid", { amount: 10 }, KEEP, key);
      // A key names one event: the engine does not compare bodies. The answer carries this call's
      // type and data with the first event's position (PublishedEvent).
      const repeat = await second.engine.publish(ch, "refunded", { amount: 99 }, KEEP, key);
      assert.deepEqual(repeat, { channel: ch, type: "refunded", data: { amount: 99 }, epoch: stored.epoch, offset: stored.offset, time: stored.time, replayed: true });
      await first.engine.publish(ch, "barrier", null, KEEP);
      assert.deepEqual((await first.waitFor(ch, 2)).map((event) => [event.offset, event.type, event.data]), [[stored.offset, "paid", { amount: 10 }], [stored.offset + 1, "barrier", null]]);
      const history = await second.engine.history(ch, { since: 0 }, KEEP);
      assert.deepEqual(history.events.map((event) => event.data), [{ amount: 10 }, null], "only the first body is stored");
      assert.deepEqual(await second.engine.recall(ch, key.key), { epoch: stored.epoch, offset: stored.offset, time: stored.time });
    });

    it("keeps idempotency records per channel: one key on two channels stores on each", async () => {
      const { engine } = await start();
      const [a, b] = [channel("idempotent-a"), channel("idempotent-b")];
      const key = { key: "shared-name", ttlMs: 60_000 };
      const onA = await engine.publish(a, "x", 1, KEEP, key);
      const onB = await engine.publish(b, "x", 2, KEEP, key);
      assert.deepEqual([onA.replayed, onB.replayed], [false, false]);
      assert.deepEqual((await engine.history(b, { since: 0 }, KEEP)).events.map((event) => event.data), [2]);
      assert.deepEqual(await engine.recall(b, key.key), { epoch: onB.epoch, offset: onB.offset, time: onB.time });
      assert.deepEqual(await engine.recall(a, key.key), { epoch: onA.epoch, offset: onA.offset, time: onA.time });
    });

    it("forgets an idempotency key after its TTL", async () => {
      const { engine } = await start();
      const ch = channel("idempotent-ttl");
      const key = { key: "brief", ttlMs: 50 };
      const first = await engine.publish(ch, "x", 1, KEEP, key);
      const deadline = Date.now() + 5_000;
      while ((await engine.recall(ch, key.key)) !== undefined) {
        if (Date.now() > deadline) throw new Error("the idempotency record outlived its 50 ms TTL by 5 s");
        await sleep(20);
      }
      const second = await engine.publish(ch, "x", 1, KEEP, key);
      assert.equal(second.replayed, false);
      assert.equal(second.offset, first.offset + 1);
    });

    it("returns history since an offset, with limit, and the newest events without since", async () => {
      const { engine } = await start();
      const ch = channel("history");
      for (let i = 1; i <= 10; i++) await engine.publish(ch, "n", i, KEEP);
      const since = await engine.history(ch, { since: 6 }, KEEP);
      assert.deepEqual(since.events.map((e) => e.data), [7, 8, 9, 10]);
      assert.equal(since.offset, 10);
      assert.equal(since.complete, true);
      const limited = await engine.history(ch, { since: 2, limit: 3 }, KEEP);
      assert.deepEqual(limited.events.map((e) => e.offset), [3, 4, 5]);
      const newest = await engine.history(ch, { limit: 2 }, KEEP);
      assert.deepEqual(newest.events.map((e) => e.offset), [9, 10]);
      const all = await engine.history(ch, {}, KEEP);
      assert.equal(all.events.length, 10);
      assert.equal(all.events[0]!.type, "n");
      assert.equal(all.events[0]!.channel, ch);
      assert.equal(typeof all.events[0]!.time, "number");
      assert.deepEqual((await engine.history(ch, { since: 10 }, KEEP)).events, []);
    });

    it("keeps structured data intact through history", async () => {
      const { engine } = await start();
      const ch = channel("data");
      const data = { text: "héllo \"quoted\" / ✓", nested: { list: [1, 2.5, null, true] }, empty: {} };
      await engine.publish(ch, "doc", data, KEEP);
      await engine.publish(ch, "nothing", null, KEEP);
      const history = await engine.history(ch, { since: 0 }, KEEP);
      assert.deepEqual(history.events.map((e) => e.data), [data, null]);
    });

    it("trims history by size and says when since is older than what is kept", async () => {
      const { engine } = await start();
      const ch = channel("size");
      const small: StreamOptions = { historySize: 3, historyTtlMs: 60_000 };
      for (let i = 1; i <= 5; i++) await engine.publish(ch, "n", i, small);
      const all = await engine.history(ch, {}, small);
      assert.deepEqual(all.events.map((e) => e.offset), [3, 4, 5]);
      assert.equal((await engine.history(ch, { since: 0 }, small)).complete, false);
      assert.equal((await engine.history(ch, { since: 1 }, small)).complete, false);
      const fromTwo = await engine.history(ch, { since: 2 }, small);
      assert.equal(fromTwo.complete, true);
      assert.deepEqual(fromTwo.events.map((e) => e.offset), [3, 4, 5]);
    });

    it("keeps no history with historySize 0, while offsets still grow", async () => {
      const { engine } = await start();
      const ch = channel("nohistory");
      const none: StreamOptions = { historySize: 0, historyTtlMs: 60_000 };
      await engine.publish(ch, "n", 1, none);
      const second = await engine.publish(ch, "n", 2, none);
      assert.equal(second.offset, 2);
      const history = await engine.history(ch, { since: 2 }, none);
      assert.deepEqual(history.events, []);
      assert.equal(history.complete, true);
      assert.equal((await engine.history(ch, { since: 1 }, none)).complete, false);
    });

    it("drops events older than the history TTL", async () => {
      const { engine } = await start();
      const ch = channel("ttl");
      const brief: StreamOptions = { historySize: 100, historyTtlMs: 150 };
      await engine.publish(ch, "old", 1, brief);
      // The only way to observe a TTL is to let it pass.
      await sleep(300);
      const fresh = await engine.publish(ch, "new", 2, brief);
      const history = await engine.history(ch, { since: 0 }, brief);
      assert.deepEqual(history.events.map((e) => e.offset), [fresh.offset]);
      assert.equal(history.complete, false, "event 1 expired, so nothing after 0 is complete");
      assert.equal((await engine.history(ch, { since: 1 }, brief)).complete, true);
    });

    it("answers history of a channel never published to with offset 0 and no events", async () => {
      const { engine } = await start();
      const ch = channel("empty");
      const history = await engine.history(ch, { since: 0 }, KEEP);
      assert.equal(history.offset, 0);
      assert.deepEqual(history.events, []);
      assert.equal(history.complete, true);
    });

    it("delivers events after subscribe, in offset order, once each", async () => {
      const node = await start();
      const ch = channel("deliver");
      await node.engine.subscribe(ch);
      for (let i = 1; i <= 20; i++) await node.engine.publish(ch, "n", i, KEEP);
      const got = await node.waitFor(ch, 20);
      assert.deepEqual(got.map((e) => e.offset), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(got.map((e) => e.data), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it("delivers concurrent publishes in offset order", async () => {
      const node = await start();
      const ch = channel("deliver-concurrent");
      await node.engine.subscribe(ch);
      await Promise.all(Array.from({ length: 100 }, (_, i) => node.engine.publish(ch, "n", i, KEEP)));
      const got = await node.waitFor(ch, 100);
      assert.deepEqual(got.map((e) => e.offset), Array.from({ length: 100 }, (_, i) => i + 1));
    });

    it("stops delivering a channel after unsubscribe", async () => {
      const node = await start();
      const left = channel("left");
      const kept = channel("kept");
      await node.engine.subscribe(left);
      await node.engine.subscribe(kept);
      await node.engine.publish(left, "n", 1, KEEP);
      await node.waitFor(left, 1);
      await node.engine.unsubscribe(left);
      await node.engine.publish(left, "n", 2, KEEP);
      // Delivery order across channels is not promised, but a later event on a still-held channel
      // passing through the same path is the best barrier there is.
      await node.engine.publish(kept, "barrier", null, KEEP);
      await node.waitFor(kept, 1);
      assert.deepEqual(node.of(left).map((e) => e.offset), [1]);
    });

    it("does not deliver channels that were never subscribed", async () => {
      const node = await start();
      const other = channel("other");
      const held = channel("held");
      await node.engine.subscribe(held);
      await node.engine.publish(other, "n", 1, KEEP);
      await node.engine.publish(held, "barrier", null, KEEP);
      await node.waitFor(held, 1);
      assert.deepEqual(node.of(other), []);
    });

    it("lists, adds and removes presence entries", async () => {
      const { engine } = await start();
      const ch = channel("presence");
      assert.deepEqual(await engine.presence(ch), []);
      const alice = { connectionId: "c1", user: "alice", transport: "websocket", node: "n1", connectedAt: new Date().toISOString() };
      const anonymous = { connectionId: "c2", transport: "sse", node: "n1", connectedAt: new Date().toISOString() };
      await engine.addPresence(ch, alice);
      await engine.addPresence(ch, anonymous);
      const listed = (await engine.presence(ch)).sort((a, b) => a.connectionId.localeCompare(b.connectionId));
      assert.deepEqual(listed, [alice, anonymous]);
      await engine.removePresence(ch, "c1");
      assert.deepEqual(await engine.presence(ch), [anonymous]);
      await engine.removePresence(ch, "c2");
      assert.deepEqual(await engine.presence(ch), []);
    });

    it("carries an event's sender live and through history; events without one have none", async () => {
      const node = await start();
      const ch = channel("sender");
      await node.engine.subscribe(ch);
      const sender = { connectionId: "123.456", user: "alice" };
      const sent = await node.engine.publish(ch, "client-typing", { typing: true }, KEEP, undefined, sender);
      await node.engine.publish(ch, "plain", null, KEEP);
      assert.deepEqual(sent.sender, sender);
      const live = await node.waitFor(ch, 2);
      assert.deepEqual(live.map((e) => e.sender), [sender, undefined]);
      const history = await node.engine.history(ch, { since: 0 }, KEEP);
      assert.deepEqual(history.events.map((e) => e.sender), [sender, undefined]);
      assert.deepEqual(history.events.map((e) => e.data), [{ typing: true }, null]);
    });

    it("keeps an event's tags live, through history and through recovery after a gap; events without tags have none", async () => {
      const node = await start();
      const ch = channel("tags");
      await node.engine.subscribe(ch);
      const btc = { symbol: "BTC", "user:id": "7", note: 'quoted "x" and ü' };
      const sent = await node.engine.publish(ch, "fill", { qty: 1 }, KEEP, undefined, undefined, undefined, btc);
      assert.deepEqual(sent.tags, btc);
      await node.engine.publish(ch, "plain", null, KEEP);
      await node.engine.publish(ch, "fill", { qty: 2 }, KEEP, undefined, { connectionId: "c1" }, undefined, { symbol: "ETH" });
      const live = await node.waitFor(ch, 3);
      assert.deepEqual(live.map((e) => e.tags), [btc, undefined, { symbol: "ETH" }]);
      assert.equal("tags" in live[1]!, false);
      // What a subscriber coming back with `since` reads: the events after its position, tags and all.
      const recovered = await node.engine.history(ch, { since: 1 }, KEEP);
      assert.equal(recovered.complete, true);
      assert.deepEqual(recovered.events.map((e) => [e.offset, e.tags, e.sender?.connectionId]), [[2, undefined, undefined], [3, { symbol: "ETH" }, "c1"]]);
      const newest = await node.engine.history(ch, { limit: 1 }, KEEP);
      assert.deepEqual(newest.events.map((e) => e.tags), [{ symbol: "ETH" }]);
    });

    it("joins and leaves presence atomically: of two joins at once exactly one sees the other, and info is kept", async () => {
      const [a, b] = options.shared ? [await start(), await start()] : [await start(), undefined];
      const other = b ?? a;
      const ch = channel("join");
      const entry = (id: string) => ({ connectionId: id, user: "u1", info: { user_info: { name: id } }, transport: "pusher", node: "n", connectedAt: new Date().toISOString() });
      for (let round = 0; round < 10; round++) {
        const [first, second] = await Promise.all([a.engine.joinPresence(ch, entry(`x${round}`)), other.engine.joinPresence(ch, entry(`y${round}`))]);
        assert.equal(first.length + second.length, 3, "one join saw only itself, the other saw both");
        const [left1, left2] = await Promise.all([a.engine.leavePresence(ch, `x${round}`), other.engine.leavePresence(ch, `y${round}`)]);
        assert.equal(left1.length + left2.length, 1, "one leave saw the other still there, the other saw nobody");
      }
      await a.engine.joinPresence(ch, entry("kept"));
      assert.deepEqual((await other.engine.presence(ch)).map((e) => e.info), [{ user_info: { name: "kept" } }]);
      assert.deepEqual(await a.engine.leavePresence(ch, "kept"), []);
    });

    it("counts a user online at their first connection only, and hands them out offline once, when the last is gone and the grace passed", async () => {
      const { engine } = await start();
      const user = channel("user");
      assert.equal(await engine.userConnect(user, `${user}-c1`, 0), true, "the first connection finds the user offline");
      assert.equal(await engine.userConnect(user, `${user}-c2`, 0), false, "a second one finds them online");
      await engine.userDisconnect(`${user}-c1`);
      assert.ok(!(await engine.claimOffline()).includes(user), "one connection is left: still online");
      await engine.userDisconnect(`${user}-c2`);
      const claimed: string[] = [];
      await waitUntil(`${user} handed out offline`, async () => {
        claimed.push(...(await engine.claimOffline()).filter((claimedUser) => claimedUser === user));
        return claimed.length > 0;
      });
      assert.deepEqual(claimed, [user]);
      assert.ok(!(await engine.claimOffline()).includes(user), "handed out once");
      assert.equal(await engine.userConnect(user, `${user}-c3`, 0), true, "after going offline the next connection finds them offline again");
      await engine.userDisconnect(`${user}-c3`);
    });

    it("keeps a user who returns within the grace online: no offline to hand out, and the return is not a first connection", async () => {
      const { engine } = await start();
      const user = channel("user");
      assert.equal(await engine.userConnect(user, `${user}-tab`, 0), true);
      await engine.userDisconnect(`${user}-tab`);
      assert.equal(await engine.userConnect(user, `${user}-reloaded`, 60_000), false, "the reload finds the user still online");
      assert.ok(!(await engine.claimOffline()).includes(user), "the deadline left with the return");
      await engine.userDisconnect(`${user}-reloaded`);
      assert.ok(!(await engine.claimOffline()).includes(user), "the new deadline is the reloaded connection's grace away");
      await engine.userDisconnect(`${user}-never-counted`);
    });

    it("keeps the highest acknowledged offset per reader and epoch, with the time it was reached", async () => {
      const { engine } = await start();
      const ch = channel("receipts");
      const { epoch } = await engine.position(ch, KEEP);
      assert.deepEqual(await engine.receipts(ch, epoch), []);
      const before = Date.now();
      await engine.acknowledge(ch, "u:alice", epoch, 3, KEEP);
      await engine.acknowledge(ch, "u:alice", epoch, 2, KEEP);
      await engine.acknowledge(ch, "c:anon", epoch, 1, KEEP);
      const receipts = (await engine.receipts(ch, epoch)).sort((a, b) => a.reader.localeCompare(b.reader));
      assert.deepEqual(receipts.map(({ reader, offset }) => ({ reader, offset })), [{ reader: "c:anon", offset: 1 }, { reader: "u:alice", offset: 3 }], "a lower acknowledgement does not take the receipt back");
      assert.ok(receipts.every((receipt) => receipt.time >= before - 5_000 && receipt.time <= Date.now() + 5_000), "the time is the engine's clock, near now");
      assert.deepEqual((await engine.receipts(ch, epoch, "u:alice")).map((receipt) => receipt.offset), [3]);
      assert.deepEqual(await engine.receipts(ch, epoch, "u:nobody"), []);
      assert.deepEqual(await engine.receipts(ch, "another-epoch"), [], "receipts are of one epoch");
      await engine.acknowledge(ch, "u:alice", "another-epoch", 1, KEEP);
      assert.deepEqual((await engine.receipts(ch, "another-epoch")).map((receipt) => receipt.offset), [1], "a new epoch replaces the receipt");
    });

    it("forgets receipts after the channel's history TTL", async () => {
      const { engine } = await start();
      const ch = channel("receipts-ttl");
      const { epoch } = await engine.position(ch, KEEP);
      await engine.acknowledge(ch, "u:alice", epoch, 1, { historySize: 10, historyTtlMs: 100 });
      await waitUntil("the receipt to expire", async () => (await engine.receipts(ch, epoch)).length === 0);
    });

    it("hands out a due item once it is due, again after its lease unless completed, and keeps the first of two schedules of one id", async () => {
      const { engine } = await start();
      const queue = channel("due");
      const now = (await engine.publish(channel("clock"), "t", null, KEEP)).time;
      await engine.schedule(queue, "later", now + 60_000, "L");
      await engine.schedule(queue, "soon", now, "first");
      await engine.schedule(queue, "soon", now + 60_000, "second");
      const claimed = await engine.claimDue(queue, 10, 100);
      assert.deepEqual(claimed, [{ id: "soon", payload: "first" }], "only the due item, as first scheduled");
      assert.deepEqual(await engine.claimDue(queue, 10, 100), [], "leased: not handed out twice");
      const again: string[] = [];
      await waitUntil("the lease to pass and the item to come back", async () => {
        again.push(...(await engine.claimDue(queue, 10, 60_000)).map((item) => item.id));
        return again.length > 0;
      });
      assert.deepEqual(again, ["soon"]);
      await engine.completeDue(queue, "soon");
      await engine.completeDue(queue, "later");
      await engine.schedule(queue, "soon", now, "anew");
      assert.deepEqual(await engine.claimDue(queue, 10, 100), [{ id: "soon", payload: "anew" }], "a completed id may be scheduled again");
      await engine.completeDue(queue, "soon");
    });

    it("reports itself available", async () => {
      const { engine } = await start();
      assert.equal(engine.status().available, true);
      assert.equal(engine.status().name, engine.name);
    });

    it("answers a survey with this node's answer, as it would arrive through JSON", async () => {
      const node = await start();
      node.answer = async (request) => ({ got: request, left: undefined, at: new Date(0) });
      const result = await node.engine.survey({ op: "count", n: 1 });
      assert.deepEqual(result, { answers: [{ got: { op: "count", n: 1 }, at: "1970-01-01T00:00:00.000Z" }], missing: 0 });
      assert.deepEqual(node.requests, [{ op: "count", n: 1 }], "handled once");
    });

    if (options.shared) {
      it("surveys every running node once, the asking node's answer first, and not a stopped one", async () => {
        const [a, b, c] = [await start(), await start(), await start()];
        const first = await a.engine.survey({ op: "who" });
        assert.equal(first.missing, 0);
        assert.equal((first.answers[0] as { node: string }).node, a.name);
        assert.deepEqual(first.answers.map((answer) => (answer as { node: string }).node).sort(), [a.name, b.name, c.name].sort());
        for (const node of [a, b, c]) assert.deepEqual(node.requests, [{ op: "who" }]);
        await c.engine.close();
        const second = await b.engine.survey({ op: "again" });
        assert.deepEqual(second.answers.map((answer) => (answer as { node: string }).node), [b.name, a.name]);
        assert.equal(second.missing, 0, "a stopped node is not waited for");
      });

      it("keeps answering surveys after a node let go of its last channel", async () => {
        const [a, b] = [await start(), await start()];
        const ch = channel("let-go");
        await b.engine.subscribe(ch);
        await b.engine.unsubscribe(ch);
        const result = await a.engine.survey({ op: "still there?" });
        assert.deepEqual(result.answers.map((answer) => (answer as { node: string }).node), [a.name, b.name]);
        assert.equal(result.missing, 0);
      });

      it("counts a node whose handler fails as missing, and still answers with the others", async () => {
        const [a, b] = [await start(), await start()];
        b.answer = async () => {
          throw new Error("cannot");
        };
        const result = await a.engine.survey({ op: "x" });
        assert.deepEqual(result, { answers: [{ node: a.name, request: { op: "x" } }], missing: 1 });
      });

      it("shares one stream between nodes: offsets continue and events reach every node in order", async () => {
        const [a, b, c] = [await start(), await start(), await start()];
        const ch = channel("shared");
        await Promise.all([a, b, c].map((node) => node.engine.subscribe(ch)));
        // Three publishers on three nodes at once.
        await Promise.all(
          [a, b, c].map(async (node, n) => {
            for (let i = 0; i < 30; i++) await node.engine.publish(ch, "n", { n, i }, KEEP);
          }),
        );
        const expected = Array.from({ length: 90 }, (_, i) => i + 1);
        for (const node of [a, b, c]) assert.deepEqual((await node.waitFor(ch, 90)).map((e) => e.offset), expected);
        const seenByA = a.of(ch).map((e) => JSON.stringify(e.data));
        assert.deepEqual(b.of(ch).map((e) => JSON.stringify(e.data)), seenByA, "every node sees one order");
        assert.equal((await c.engine.history(ch, { since: 0 }, KEEP)).events.length, 90);
      });

      it("counts a user's connections across nodes and hands the offline user to exactly one of the nodes claiming at once", async () => {
        const [a, b, c] = [await start(), await start(), await start()];
        const user = channel("user");
        const firsts = await Promise.all([a, b, c].map((node, n) => node.engine.userConnect(user, `${user}-${n}`, 0)));
        assert.equal(firsts.filter(Boolean).length, 1, "one connection, on one node, finds the user offline");
        await a.engine.userDisconnect(`${user}-0`);
        await b.engine.userDisconnect(`${user}-1`);
        assert.ok(!(await a.engine.claimOffline()).includes(user), "c still holds a connection");
        await c.engine.userDisconnect(`${user}-2`);
        let handedOut = 0;
        await waitUntil(`${user} handed out offline`, async () => {
          const claims = await Promise.all([a, b, c].map((node) => node.engine.claimOffline()));
          handedOut += claims.flat().filter((claimed) => claimed === user).length;
          return handedOut > 0;
        });
        const later = await Promise.all([a, b, c].map((node) => node.engine.claimOffline()));
        assert.equal(handedOut + later.flat().filter((claimed) => claimed === user).length, 1);
      });

      it("shares receipts between nodes", async () => {
        const [a, b] = [await start(), await start()];
        const ch = channel("shared-receipts");
        const { epoch } = await a.engine.position(ch, KEEP);
        await a.engine.acknowledge(ch, "u:alice", epoch, 2, KEEP);
        await b.engine.acknowledge(ch, "u:alice", epoch, 1, KEEP);
        assert.deepEqual((await b.engine.receipts(ch, epoch)).map(({ reader, offset }) => ({ reader, offset })), [{ reader: "u:alice", offset: 2 }]);
      });

      it("hands each due item to exactly one of the nodes claiming at once", async () => {
        const nodes = [await start(), await start(), await start()];
        const queue = channel("shared-due");
        const now = (await nodes[0]!.engine.publish(channel("clock"), "t", null, KEEP)).time;
        for (let i = 0; i < 30; i++) await nodes[i % 3]!.engine.schedule(queue, `item${i}`, now, String(i));
        const claims = await Promise.all(nodes.flatMap((node) => [node.engine.claimDue(queue, 7, 60_000), node.engine.claimDue(queue, 7, 60_000)]));
        const ids = claims.flat().map((item) => item.id);
        assert.equal(new Set(ids).size, ids.length, "no item handed out twice");
        const rest = await nodes[1]!.engine.claimDue(queue, 100, 60_000);
        assert.equal(ids.length + rest.length, 30, "and none lost");
      });

      it("shares presence between nodes", async () => {
        const [a, b] = [await start(), await start()];
        const ch = channel("shared-presence");
        const entry = { connectionId: "x1", transport: "websocket", node: "a", connectedAt: new Date().toISOString() };
        await a.engine.addPresence(ch, entry);
        assert.deepEqual(await b.engine.presence(ch), [entry]);
      });
    }
  });
}
