/**
 * OpenTelemetry end to end: an event published with a `traceparent` shows up as one trace at an
 * OTLP/HTTP receiver (a real HTTP server reading what the official exporter sends): the publish
 * request, the engine append, the fan-out on each of two nodes sharing Redis, and the webhook
 * and email attempts, all under the publisher's trace id. Tracing is on for this file's process only (the
 * OTEL_* variables are set before any Herald starts). The dashboard's feed names the trace id.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, startHerald, type RunningHerald } from "../support/herald.js";
import { REDIS_URL, deleteKeys, redisSkip, uniquePrefix } from "../support/redis.js";
import { startReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { SseReader } from "../support/sse.js";
import { startSmtp, type SmtpSink } from "../support/smtp-server.js";
import { DATABASE_URL, connect, postgresMissing, uniqueName } from "../support/postgres.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

const collector = await startReceiver(() => 200);
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
process.env.OTEL_SERVICE_NAME = "herald-test";
process.env.OTEL_BSP_SCHEDULE_DELAY = "50";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";

function spans(): OtlpSpan[] {
  return collector.hits.flatMap((hit) => (hit.body.resourceSpans ?? []).flatMap((resource: any) => resource.scopeSpans.flatMap((scope: any) => scope.spans as OtlpSpan[])));
}
const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((entry) => entry.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

after(async () => {
  await collector.close();
});

describe("tracing (OTLP)", { skip: await redisSkip() }, () => {
  const prefix = uniquePrefix("tracing");
  let a: RunningHerald;
  let b: RunningHerald;
  let webhook: WebhookReceiver;
  let smtp: SmtpSink;

  before(async () => {
    webhook = await startReceiver(() => 204);
    smtp = await startSmtp();
    const config = { engine: { type: "redis" as const, redisUrl: REDIS_URL, prefix } };
    a = await startHerald({
      ...config,
      node: "node-a",
      sinks: {
        webhooks: { endpoints: [{ url: webhook.url, secret: "whsec_0123456789abcdef", on: { channel: "bets:*" } }] },
        email: { smtp: { host: "127.0.0.1", port: smtp.port }, rules: [{ on: { channel: "bets:*" }, to: "bettor@example.test", subject: "Bet resolved", text: "won" }] },
      },
    });
    b = await startHerald({ ...config, node: "node-b" });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await webhook?.close();
    await smtp?.close();
    await deleteKeys(prefix);
  });

  it("follows an event published with a traceparent through publish, append, fan-out on both nodes, the webhook and the email, in one trace", async () => {
    const onA = await TestClient.open(`${a.wsUrl}/ws`);
    const onB = await TestClient.open(`${b.wsUrl}/ws`);
    await onA.subscribe("bets:42");
    await onB.subscribe("bets:42");
    const feed = await SseReader.open(`${a.url}/api/admin/events`, a.adminHeaders);
    await feed.waitFor("hello");
    const response = await fetch(`${a.url}/api/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` },
      body: JSON.stringify({ channel: "bets:42", type: "bet_resolved", data: { won: true } }),
    });
    assert.equal(response.status, 200);
    await onA.next("bet_resolved");
    await onB.next("bet_resolved");
    await webhook.until(1);
    await smtp.next();
    const [shown] = await feed.waitFor("message");
    assert.equal(shown!.data.traceId, TRACE_ID, "the dashboard's feed names the event's trace");
    feed.close();
    assert.match(String(webhook.hits[0]!.headers.traceparent), new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`), "the receiver gets the trace too");
    await Promise.all([onA.close(), onB.close()]);
    // Closing flushes what is buffered.
    await a.close();
    await b.close();

    const inTrace = spans().filter((span) => span.traceId === TRACE_ID);
    const byName = (name: string) => inTrace.filter((span) => span.name === name);
    const [publish] = byName("herald.publish");
    assert.ok(publish, `a publish span in the trace; got ${JSON.stringify(spans().map((s) => s.name))}`);
    assert.equal(publish.parentSpanId, PARENT_SPAN, "a child of the publisher's span");
    const [append] = byName("herald.engine.append");
    assert.equal(append?.parentSpanId, publish.spanId);
    assert.equal(attribute(append!, "herald.channel"), "bets:42");
    assert.equal(attribute(append!, "herald.engine"), "redis");
    const fanouts = byName("herald.fanout");
    assert.deepEqual(fanouts.map((span) => attribute(span, "herald.node")).sort(), ["node-a", "node-b"], "one fan-out span per node");
    for (const span of fanouts) {
      assert.equal(span.parentSpanId, append!.spanId);
      assert.equal(attribute(span, "herald.subscribers"), 1);
    }
    const [attempt] = byName("herald.webhook");
    assert.equal(attempt?.parentSpanId, append!.spanId);
    assert.equal(attribute(attempt!, "url.full"), webhook.url);
    const [email] = byName("herald.email");
    assert.equal(email?.parentSpanId, append!.spanId, "the email attempt too");
  });
});

describe("tracing a row of the Postgres outbox", { skip: await postgresMissing() }, () => {
  it("continues the trace named in the row's traceparent column: the source's span, then the append", async () => {
    const outbox = uniqueName("herald_outbox_trace");
    const db = await connect();
    const hub = await startHerald({ sources: { postgres: { url: DATABASE_URL, outbox } } });
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe("deposits:7");
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const parent = "b7ad6b7169203331";
      // What an app writing its own outbox rows from a traced request does.
      await db.query(`INSERT INTO ${outbox} (channel, type, payload, traceparent) VALUES ($1, $2, $3, $4)`, ["deposits:7", "deposit", { amount: 5 }, `00-${traceId}-${parent}-01`]);
      await db.query(`SELECT pg_notify($1, '')`, [outbox]);
      await client.next("deposit");
      await client.close();
      await hub.close();
      const inTrace = spans().filter((span) => span.traceId === traceId);
      const source = inTrace.find((span) => span.name === "herald.source.postgres");
      assert.equal(source?.parentSpanId, parent, `the source's span continues the row's trace; got ${JSON.stringify(inTrace.map((s) => s.name))}`);
      assert.equal(inTrace.find((span) => span.name === "herald.engine.append")?.parentSpanId, source!.spanId);
    } finally {
      await client.close();
      await hub.close();
      await db.query(`DROP TABLE IF EXISTS ${outbox}`);
      await db.end();
    }
  });
});
