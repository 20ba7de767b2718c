/**
 * The SDK hands the app an event's trace id (`event.traceId`), so a client-side error report can
 * name the trace: an event published with a W3C `traceparent` reaches the handler with that
 * traceparent's trace id, over WebSocket, SSE and polling, on the memory engine and across two
 * nodes sharing Redis. Tracing is on for this file's process (the OTEL_* variables are set before
 * any Herald starts, spans go to a local OTLP/HTTP receiver). With tracing off (a node started
 * through the CLI without those variables) the wire carries no trace field at all.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, type RunningHerald } from "../../server/test/support/herald.js";
import { deadline } from "../../server/test/support/deadline.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../../server/test/support/redis.js";
import { startReceiver } from "../../server/test/support/webhook-receiver.js";
import { startNodeProcess, type NodeProcess } from "../../server/test/support/node-process.js";
import { Herald, type EventFrame, type TransportName } from "../src/index.js";
import { until } from "./support/wait.js";

const collector = await startReceiver(() => 200);
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
process.env.OTEL_SERVICE_NAME = "herald-test";
process.env.OTEL_BSP_SCHEDULE_DELAY = "50";
after(() => collector.close());

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const TRANSPORTS: TransportName[] = ["websocket", "sse", "polling"];
const redisSkipped = await redisSkip();

type Bets = { bet_resolved: { won: boolean } };

async function publish(url: string, channel: string, traceparent?: string): Promise<void> {
  const response = await fetch(`${url}/api/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(traceparent === undefined ? {} : { traceparent }) },
    body: JSON.stringify({ channel, type: "bet_resolved", data: { won: true } }),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Subscribes an SDK client to `channel` on `url` and resolves with the frame its first `bet_resolved` handler call got. */
async function receiveOne(url: string, transport: TransportName, channel: string, publishing: () => Promise<void>): Promise<{ client: Herald; event: EventFrame<Bets["bet_resolved"]> }> {
  const client = new Herald({ url, transports: [transport], WebSocket, pollTimeout: 2_000 });
  const events: Array<EventFrame<Bets["bet_resolved"]>> = [];
  let subscribed = false;
  const ready = until(() => subscribed, `${transport} subscribed to ${channel}`);
  const arrived = until(() => events.length > 0, `bet_resolved over ${transport}`);
  const subscription = client.subscribe<Bets>(channel);
  subscription.on("subscribed", () => ((subscribed = true), ready.poke()));
  subscription.on("bet_resolved", (_data, event) => (events.push(event), arrived.poke()));
  client.connect();
  try {
    await ready.done;
    await publishing();
    await arrived.done;
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return { client, event: events[0]! };
}

/** A raw stream's text as it arrives, to assert on the bytes themselves. */
class RawText {
  text = "";
  private readonly waiters = new Set<() => void>();

  append(chunk: string): void {
    this.text += chunk;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves once the text so far contains `part`. */
  until(part: string): Promise<void> {
    return deadline(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!this.text.includes(part)) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        check();
      }),
      () => `${JSON.stringify(part)} in ${JSON.stringify(this.text.slice(-300))}`,
    );
  }
}

async function rawWebSocket(wsUrl: string, channel: string): Promise<{ raw: RawText; close(): void }> {
  const raw = new RawText();
  const socket = new WebSocket(`${wsUrl}/ws`);
  socket.on("message", (data) => raw.append(`${data.toString()}\n`));
  await deadline(new Promise((resolve) => socket.once("open", resolve)), "the WebSocket to open");
  socket.send(JSON.stringify({ type: "subscribe", channel }));
  await raw.until('"type":"subscribed"');
  return { raw, close: () => socket.close() };
}

async function rawSse(url: string, channel: string): Promise<{ raw: RawText; close(): void }> {
  const raw = new RawText();
  const abort = new AbortController();
  const response = await fetch(`${url}/sse?channel=${encodeURIComponent(channel)}`, { signal: abort.signal });
  assert.equal(response.status, 200);
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) raw.append(decoder.decode(chunk, { stream: true }));
  })().catch(() => undefined);
  await raw.until("subscribed");
  return { raw, close: () => abort.abort() };
}

describe("an event's trace id in the SDK, tracing on", () => {
  for (const engine of ["memory", "redis"] as const) {
    describe(`${engine} engine`, () => {
      const skip = engine === "redis" ? redisSkipped : false;
      const prefix = uniquePrefix("trace-id");
      // Redis: published on one node, received on another, so the id crosses the engine.
      let publisher: RunningHerald;
      let receiver: RunningHerald;
      before(async () => {
        if (skip) return;
        if (engine === "memory") {
          publisher = receiver = await startHerald();
          return;
        }
        const config = { engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix } };
        publisher = await startHerald({ ...config, node: "node-a" });
        receiver = await startHerald({ ...config, node: "node-b" });
      });
      after(async () => {
        await publisher?.close();
        if (receiver !== publisher) await receiver?.close();
        if (engine === "redis" && !skip) await deleteKeys(prefix);
      });

      for (const transport of TRANSPORTS) {
        it(`over ${transport}: the handler's event names the traceparent's trace id, and so does the channel's history`, { skip }, async () => {
          const channel = `bets:${engine}-${transport}`;
          const { client, event } = await receiveOne(receiver.url, transport, channel, () => publish(publisher.url, channel, TRACEPARENT));
          try {
            assert.deepEqual(event.data, { won: true });
            assert.equal(event.traceId, TRACE_ID);
            const history = await client.history(channel);
            assert.equal(history.events.at(-1)?.traceId, TRACE_ID, "kept with the event in history, for recovery and polling");
          } finally {
            client.disconnect();
          }
        });
      }
    });
  }

  it("a publish without traceparent: the id of the trace Herald started for it, the one the collector receives", async () => {
    const hub = await startHerald();
    const channel = "bets:untraced-publisher";
    const { client, event } = await receiveOne(hub.url, "websocket", channel, () => publish(hub.url, channel));
    client.disconnect();
    try {
      assert.match(event.traceId ?? "", /^[0-9a-f]{32}$/);
      assert.notEqual(event.traceId, TRACE_ID);
      const spanIn = (traceId: string) =>
        collector.hits.some((hit) =>
          (hit.body.resourceSpans ?? []).some((resource: any) => resource.scopeSpans.some((scope: any) => scope.spans.some((span: any) => span.traceId === traceId && span.name === "herald.publish"))),
        );
      for (let hits = collector.hits.length + 1; !spanIn(event.traceId!); hits += 1) await collector.until(hits);
    } finally {
      await hub.close();
    }
  });

  it("on the wire: the herald envelope's last field is traceId", async () => {
    const hub = await startHerald();
    const channel = "bets:raw-on";
    const ws = await rawWebSocket(hub.wsUrl, channel);
    try {
      await publish(hub.url, channel, TRACEPARENT);
      await ws.raw.until("bet_resolved");
      assert.match(ws.raw.text, new RegExp(`\\{"type":"bet_resolved","channel":"bets:raw-on","data":\\{"won":true\\},"offset":1,"epoch":"[^"]+","timestamp":"[^"]+","traceId":"${TRACE_ID}"\\}`));
    } finally {
      ws.close();
      await hub.close();
    }
  });
});

describe("tracing off", () => {
  let node: NodeProcess | undefined;
  after(() => node?.kill());

  it("no trace field on the wire over WebSocket, SSE, polling or history, even for a publish with a traceparent", async () => {
    // A node started through the CLI without the OTEL_* variables (this process's are not inherited).
    node = await startNodeProcess("tracing-off", {});
    const channel = "bets:raw-off";
    const ws = await rawWebSocket(node.wsUrl, channel);
    const sse = await rawSse(node.url, channel);
    try {
      await publish(node.url, channel, TRACEPARENT);
      await ws.raw.until("bet_resolved");
      await sse.raw.until("bet_resolved");
      const polled = await (await fetch(`${node.url}/api/updates?channel=${channel}`)).text();
      const history = await (await fetch(`${node.url}/api/history?channel=${channel}`)).text();
      assert.match(polled, /bet_resolved/);
      assert.match(history, /bet_resolved/);
      const texts: Array<[string, string]> = [["WebSocket", ws.raw.text], ["SSE", sse.raw.text], ["polling", polled], ["history", history]];
      for (const [where, text] of texts) {
        assert.ok(!text.includes('"trace') && !text.includes(TRACE_ID), `${where} carries no trace field: ${text}`);
      }
      assert.match(ws.raw.text, /\{"type":"bet_resolved","channel":"bets:raw-off","data":\{"won":true\},"offset":1,"epoch":"[^"]+","timestamp":"[^"]+"\}/);
    } finally {
      ws.close();
      sse.close();
    }
  });
});
