import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { prng } from "../../server/test/support/prng.js";
import { Herald, type SubscribedContext, type TransportName } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { until, waitForState } from "./support/wait.js";

// Multi-byte UTF-8, JSON escapes and control characters, so that deltas cut characters and escapes in two.
const PIECES = ["a", "Z", "0", " ", "é", "ß", "送金", "🙂", "½", '"', "\\", "\n", "\u0001", "\u2028", "€", "—"];

/** A balance-and-positions object of about 1-2 KB, changed a few fields at a time. */
class Wallet {
  readonly state: Record<string, any> = {
    account: "acc-42",
    currency: "EUR",
    balance: 1520.25,
    available: 1400,
    updatedAt: "2026-12-04T17:00:00.000Z",
    positions: Array.from({ length: 12 }, (_, i) => ({ symbol: `SYM${i}`, quantity: i * 10, price: 100 + i, pnl: 0, note: "ok" })),
    limits: { daily: 5000, monthly: 50000 },
  };

  constructor(private readonly next: () => number) {}

  mutate(): void {
    const next = this.next;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const text = (): string => Array.from({ length: 1 + Math.floor(next() * 8) }, () => pick(PIECES)).join("");
    const positions = this.state.positions as Array<Record<string, unknown>>;
    const changes = 1 + Math.floor(next() * 3);
    for (let i = 0; i < changes; i++) {
      const position = positions.length > 0 ? pick(positions) : undefined;
      switch (Math.floor(next() * 8)) {
        case 0:
          this.state.balance = Math.round(next() * 1e6) / 100;
          break;
        case 1:
          this.state.available = Math.floor(next() * 1e5) - 5e4;
          break;
        case 2:
          if (position) position.price = Math.round(next() * 1e5) / 1e3;
          break;
        case 3:
          if (position) position.note = text();
          break;
        case 4:
          if (positions.length < 16) positions.push({ symbol: `NEW${Math.floor(next() * 1000)}`, quantity: 1, price: next(), pnl: 0, note: text() });
          break;
        case 5:
          if (positions.length > 4) positions.splice(Math.floor(next() * positions.length), 1);
          break;
        case 6: {
          const key = `k${Math.floor(next() * 6)}`;
          if (key in this.state && next() < 0.5) delete this.state[key];
          else this.state[key] = next() < 0.3 ? null : next() < 0.5 ? text() : { nested: text(), at: Math.floor(next() * 100) };
          break;
        }
        default:
          this.state.updatedAt = new Date(Date.UTC(2026, 11, 4) + Math.floor(next() * 8.64e7)).toISOString();
      }
    }
  }
}

/** The `ws` package, recording every text frame the client receives. */
function recordingWebSocket(frames: string[]): typeof WebSocket {
  return class extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on("message", (data) => frames.push(data.toString()));
    }
  } as typeof WebSocket;
}

/** `fetch`, recording the `data:` of every Server-Sent Events record the client receives. */
function recordingFetch(frames: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!new URL(String(input)).pathname.endsWith("/sse") || !response.body) return response;
    const [recorded, passed] = response.body.tee();
    void (async () => {
      const decoder = new TextDecoder();
      let pending = "";
      try {
        for await (const chunk of recorded as unknown as AsyncIterable<Uint8Array>) {
          pending += decoder.decode(chunk, { stream: true });
          const lines = pending.split("\n");
          pending = lines.pop()!;
          for (const line of lines) if (line.startsWith("data: ")) frames.push(line.slice("data: ".length));
        }
      } catch {
        // The client ended the stream (a reconnect): nothing more to record.
      }
    })();
    return new Response(passed, { status: response.status, headers: response.headers });
  };
}

describe("delta compression through @herald/client", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { wallet: { delta: true, history: { size: 20_000 } } } });
  });
  after(() => hub.close());

  for (const transport of ["websocket", "sse"] as TransportName[]) it(`${transport}: delivers 10,000 randomly mutated objects byte for byte, as deltas, across reconnects with recovery`, async () => {
    const proxy = await FlakyProxy.start(hub.url);
    const frames: string[] = [];
    const client = new Herald({ url: proxy.url, transports: [transport], WebSocket: recordingWebSocket(frames), fetch: recordingFetch(frames), reconnect: { minDelay: 20, maxDelay: 100 } });
    try {
      const channel = `wallet:fuzz-${transport}`;
      const received: string[] = [];
      const subscribed: SubscribedContext[] = [];
      const subscription = client.subscribe(channel);
      let wanted = 0;
      const progress = { poke: () => {} };
      subscription.onEvent((frame) => {
        assert.equal(frame.offset, received.length + 1);
        assert.equal("delta" in frame, false, "handlers see full events only");
        received.push(JSON.stringify(frame.data));
        progress.poke();
      });
      subscription.on("subscribed", (context) => {
        subscribed.push(context);
        progress.poke();
      });
      const caughtUp = async (what: string): Promise<void> => {
        const waiting = until(() => received.length >= wanted, what, 60_000);
        progress.poke = waiting.poke;
        await waiting.done;
      };
      const first = until(() => subscribed.length > 0, "subscribed");
      progress.poke = first.poke;
      client.connect();
      await first.done;

      const wallet = new Wallet(prng(20));
      const expected: string[] = [];
      const publish = async (count: number): Promise<void> => {
        for (let i = 0; i < count; i++) {
          wallet.mutate();
          const text = JSON.stringify(wallet.state);
          expected.push(text);
          await hub.herald.publish(channel, "balance_update", JSON.parse(text));
        }
        wanted = expected.length;
      };
      for (let round = 0; round < 4; round++) {
        for (let batch = 0; batch < 24; batch++) {
          await publish(100);
          await caughtUp(`${wanted} events`);
        }
        if (round === 3) break;
        const reconnecting = waitForState(client, "reconnecting");
        proxy.fail();
        await reconnecting;
        // Published while the client is away: they come back in full through recovery.
        await publish(100);
        proxy.restore();
        await caughtUp(`${wanted} events after reconnect ${round + 1}`);
      }
      await publish(10_000 - expected.length);
      await caughtUp("all 10,000 events");

      assert.equal(received.length, 10_000);
      for (let i = 0; i < expected.length; i++) assert.equal(received[i], expected[i], `event ${i + 1} differs`);
      assert.deepEqual(subscribed.map((context) => context.recovered), [false, true, true, true]);

      // On the wire: after each `subscribed` a full event first, then deltas again.
      const wire = frames.map((text) => ({ text, frame: JSON.parse(text) as Record<string, unknown> }));
      const events = wire.filter(({ frame }) => frame.channel === channel && typeof frame.offset === "number");
      const deltas = events.filter(({ frame }) => frame.delta === true);
      assert.ok(deltas.length > 9_000, `${deltas.length} of ${events.length} events came as deltas`);
      let afterSubscribed = false;
      let firstAfter = 0;
      for (const { frame } of wire) {
        if (frame.type === "subscribed") {
          assert.equal(frame.delta, "fossil");
          afterSubscribed = true;
        } else if (afterSubscribed && frame.channel === channel) {
          assert.equal(frame.delta, undefined, `offset ${String(frame.offset)}, the first after subscribed, is full`);
          afterSubscribed = false;
          firstAfter += 1;
        }
      }
      assert.equal(firstAfter, 4);
      const deltaBytes = deltas.reduce((sum, { text }) => sum + Buffer.byteLength(text), 0);
      const fullBytes = deltas.reduce((sum, { frame }) => sum + Buffer.byteLength(expected[(frame.offset as number) - 1]!), 0);
      assert.ok(deltaBytes * 3 < fullBytes, `delta frames ${deltaBytes} B against ${fullBytes} B of data`);
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
    it(`${transport}: events of a delta namespace arrive whole (as deltas on WebSocket and SSE)`, async () => {
      const frames: string[] = [];
      const requested: string[] = [];
      const fetchRecorded: typeof fetch = (input, init) => {
        requested.push(String(input));
        return fetch(input, init);
      };
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket: recordingWebSocket(frames), fetch: fetchRecorded, pollTimeout: 2_000 });
      try {
        const channel = `wallet:${transport}`;
        const received: unknown[] = [];
        const subscription = client.subscribe(channel);
        const ready = until(() => subscription.state.status === "subscribed", "subscribed");
        subscription.watch(ready.poke);
        client.connect();
        await ready.done;
        const wallet = new Wallet(prng(7));
        const expected: unknown[] = [];
        const all = until(() => received.length >= 20, "20 events");
        subscription.onEvent((frame) => {
          received.push(frame.data);
          all.poke();
        });
        for (let i = 0; i < 20; i++) {
          wallet.mutate();
          expected.push(JSON.parse(JSON.stringify(wallet.state)));
          await hub.herald.publish(channel, "balance_update", expected.at(-1));
        }
        await all.done;
        assert.deepEqual(received, expected);
        if (transport === "websocket") assert.ok(frames.some((text) => text.includes('"delta":true')), "the WebSocket carried deltas");
        if (transport === "sse") assert.ok(requested.some((url) => new URL(url).searchParams.get("delta") === "fossil"), "the stream asked for deltas");
      } finally {
        client.disconnect();
      }
    });
  }

  it("websocket: a pattern subscription hands whole data of interleaved channels, each rebuilt from its own channel's deltas", async () => {
    const frames: string[] = [];
    const client = new Herald({ url: hub.url, transports: ["websocket"], WebSocket: recordingWebSocket(frames) });
    try {
      const subscription = client.subscribe("wallet:pattern-*");
      const ready = until(() => subscription.state.status === "subscribed", "subscribed");
      subscription.watch(ready.poke);
      client.connect();
      await ready.done;
      const received: Array<[string, unknown]> = [];
      const all = until(() => received.length >= 30, "30 events");
      subscription.onEvent((frame) => {
        received.push([frame.channel, frame.data]);
        all.poke();
      });
      const wallets = [new Wallet(prng(11)), new Wallet(prng(12)), new Wallet(prng(13))];
      const expected: Array<[string, unknown]> = [];
      for (let i = 0; i < 30; i++) {
        const wallet = wallets[i % 3]!;
        wallet.mutate();
        const channel = `wallet:pattern-${i % 3}`;
        expected.push([channel, JSON.parse(JSON.stringify(wallet.state))]);
        await hub.herald.publish(channel, "balance_update", expected.at(-1)![1]);
      }
      await all.done;
      const byChannel = (list: Array<[string, unknown]>, channel: string): unknown[] => list.filter(([name]) => name === channel).map(([, data]) => data);
      for (let i = 0; i < 3; i++) assert.deepEqual(byChannel(received, `wallet:pattern-${i}`), byChannel(expected, `wallet:pattern-${i}`));
      assert.ok(frames.filter((text) => text.includes('"delta":true')).length >= 20, "the channels' events after their first came as deltas");
    } finally {
      client.disconnect();
    }
  });

  it("asks for no deltas with delta: false", async () => {
    const frames: string[] = [];
    const client = new Herald({ url: hub.url, transports: ["websocket"], WebSocket: recordingWebSocket(frames), delta: false });
    try {
      const subscription = client.subscribe("wallet:plain-client");
      const received: unknown[] = [];
      const all = until(() => received.length >= 3, "3 events");
      subscription.onEvent((frame) => {
        received.push(frame.data);
        all.poke();
      });
      const ready = until(() => subscription.state.status === "subscribed", "subscribed");
      subscription.watch(ready.poke);
      client.connect();
      await ready.done;
      const wallet = new Wallet(prng(3));
      for (let i = 0; i < 3; i++) {
        wallet.mutate();
        await hub.herald.publish("wallet:plain-client", "balance_update", JSON.parse(JSON.stringify(wallet.state)));
      }
      await all.done;
      assert.equal(received.length, 3);
      assert.ok(!frames.some((text) => text.includes('"delta"')), "no frame mentions delta");
    } finally {
      client.disconnect();
    }
  });
});
