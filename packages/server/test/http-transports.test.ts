import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { getJson, postJson, startHerald, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";
import { waitUntil } from "./support/deadline.js";

describe("Server-Sent Events at /sse", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald();
  });
  after(() => hub.close());

  it("streams the same JSON frames as WebSocket, with event: the type and id: the position", async () => {
    const stream = await SseReader.open(`${hub.url}/sse?channel=user:sse1&channel=user:sse2`);
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    await stream.waitFor("subscribed", 2);
    await hub.herald.publish("user:sse1", "balance_update", { total: 1 });
    await hub.herald.publish("user:sse2", "balance_update", { total: 2 });
    const events = await stream.waitFor("balance_update", 2);
    assert.deepEqual(events.map((e) => [e.data.channel, e.data.data]), [["user:sse1", { total: 1 }], ["user:sse2", { total: 2 }]]);
    assert.equal(events[0]!.data.type, "balance_update");
    assert.ok(events[1]!.id && events[1]!.id.length > 0);
    stream.close();
  });

  it("resumes every channel from Last-Event-ID with nothing missed and nothing repeated", async () => {
    const channels = ["user:r1", "user:r2"];
    const stream = await SseReader.open(`${hub.url}/sse?channel=user:r1&channel=user:r2`);
    await stream.waitFor("subscribed", 2);
    // n = 1..13 alternates between the channels: odd n on user:r1, even n on user:r2.
    const publish = (n: number) => hub.herald.publish(channels[(n + 1) % 2]!, "e", { n });
    for (let n = 1; n <= 3; n++) await publish(n);
    const seen = await stream.waitFor("e", 3);
    stream.close();
    for (let n = 4; n <= 10; n++) await publish(n);

    const resumed = await SseReader.open(`${hub.url}/sse?channel=user:r1&channel=user:r2`, { "last-event-id": seen[2]!.id! });
    const subscribed = await resumed.waitFor("subscribed", 2);
    assert.deepEqual(subscribed.map((s) => s.data.recovered), [true, true]);
    await resumed.waitFor("e", 7);
    for (let n = 11; n <= 13; n++) await publish(n);
    const events = await resumed.waitFor("e", 10);
    // Per channel, in arrival order: [offset, n] of the 7 missed, then the 3 live ones, each once.
    const arrived = (channel: string) => events.filter((e) => e.data.channel === channel).map((e) => [e.data.offset, (e.data.data as { n: number }).n]);
    assert.deepEqual(arrived("user:r1"), [[3, 5], [4, 7], [5, 9], [6, 11], [7, 13]]);
    assert.deepEqual(arrived("user:r2"), [[2, 4], [3, 6], [4, 8], [5, 10], [6, 12]]);
    assert.equal(events.length, 10, "nothing repeated");
    resumed.close();
  });

  it("refuses a bad Last-Event-ID with 400 invalid_cursor", async () => {
    const response = await getJson(`${hub.url}/sse?channel=user:x`, { "last-event-id": "%%%" });
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, "invalid_cursor");
  });

  it("refuses a cursor whose pattern time no server wrote (beyond a Date's range, or with an epoch), on SSE and polling, with 400 invalid_cursor", async () => {
    const forged = (entry: [string, number]) => Buffer.from(JSON.stringify({ "orders:*": entry })).toString("base64url");
    for (const cursor of [forged(["", Number.MAX_SAFE_INTEGER]), forged(["Xq3d", 4])]) {
      for (const response of [await getJson(`${hub.url}/sse?channel=orders:*`, { "last-event-id": cursor }), await getJson(`${hub.url}/api/updates?channel=orders:*&since=${cursor}`)]) {
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.error.code, "invalid_cursor");
      }
    }
    // The process is unharmed: the same stream with no cursor opens.
    const fresh = await SseReader.open(`${hub.url}/sse?channel=orders:*`);
    await fresh.waitFor("subscribed");
    fresh.close();
  });
});

describe("polling at /api/updates", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald();
  });
  after(() => hub.close());

  it("answers {updates, cursor, count}; with since=<cursor> only what came after", async () => {
    await hub.herald.publish("bets:u1", "bet_resolved", { bet_id: "1" });
    const first = await getJson(`${hub.url}/api/updates?channel=bets:u1`);
    assert.equal(first.status, 200);
    assert.equal(first.body.count, 1);
    assert.equal(first.body.updates[0].type, "bet_resolved");
    assert.equal(first.body.updates[0].channel, "bets:u1");
    await hub.herald.publish("bets:u1", "bet_disputed", { bet_id: "2" });
    const second = await getJson(`${hub.url}/api/updates?channel=bets:u1&since=${first.body.cursor}`);
    assert.equal(second.body.count, 1);
    assert.equal(second.body.updates[0].type, "bet_disputed");
    assert.equal(second.body.recovered, true);
    const third = await getJson(`${hub.url}/api/updates?channel=bets:u1&since=${second.body.cursor}`);
    assert.equal(third.body.count, 0);
  });

  it("long-polls: an empty answer waits for the next event instead of returning at once", async () => {
    const start = await getJson(`${hub.url}/api/updates?channel=bets:long`);
    const waiting = getJson(`${hub.url}/api/updates?channel=bets:long&since=${start.body.cursor}&timeout=20s`);
    // Publish once the poll is parked on the channel (it shows as a polling connection).
    await waitUntil("the long poll to show in /api/status", async () => (await getJson(`${hub.url}/api/status`)).body.transports.polling.connections >= 1);
    await postJson(`${hub.url}/api/publish`, { channel: "bets:long", type: "bet_updated", data: { bet_id: "9" } });
    const answer = await waiting;
    assert.equal(answer.body.count, 1);
    assert.deepEqual(answer.body.updates[0].data, { bet_id: "9" });
  });

  it("shows in /api/status: a waiting long-poll as a connection, then the bytes of every answer", async () => {
    const polling = async () => (await getJson(`${hub.url}/api/status`)).body.transports.polling as { connections: number; delivered: number; bytesSent: number };
    for (let n = 1; n <= 5; n++) await hub.herald.publish("bets:counted", "bet_resolved", { bet_id: String(n) });
    const before = await polling();
    const response = await fetch(`${hub.url}/api/updates?channel=bets:counted`);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const text = await response.text();
    const answer = JSON.parse(text) as { count: number; cursor: string };
    assert.equal(answer.count, 5);
    const answered = await polling();
    assert.equal(answered.connections, 0, "an answered poll is no longer in flight");
    assert.equal(answered.delivered - before.delivered, 5);
    assert.equal(answered.bytesSent - before.bytesSent, Buffer.byteLength(text));

    const waiting = fetch(`${hub.url}/api/updates?channel=bets:counted&since=${answer.cursor}&timeout=20s`).then((r) => r.text());
    await waitUntil("the long poll to count as a polling connection", async () => (await polling()).connections === 1);
    await hub.herald.publish("bets:counted", "bet_resolved", { bet_id: "6" });
    const late = await waiting;
    const after = await polling();
    assert.equal(after.connections, 0);
    assert.equal(after.bytesSent - answered.bytesSent, Buffer.byteLength(late));
  });

  it("returns at the timeout with nothing when nothing happens", async () => {
    const start = await getJson(`${hub.url}/api/updates?channel=bets:quiet`);
    const answer = await getJson(`${hub.url}/api/updates?channel=bets:quiet&since=${start.body.cursor}&timeout=100`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.count, 0);
    assert.equal(answer.body.cursor, start.body.cursor);
  });
});

describe("operations endpoints", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald();
  });
  after(() => hub.close());

  it("/api/status reports node, engine, uptime, counts and transports", async () => {
    const status = await getJson(`${hub.url}/api/status`);
    assert.equal(status.status, 200);
    assert.equal(status.body.node, hub.herald.node);
    assert.equal(status.body.engine.name, "memory");
    for (const key of ["connections", "subscriptions", "channels", "users", "uptime"]) assert.equal(typeof status.body[key], "number", key);
    assert.deepEqual(Object.keys(status.body.transports).sort(), ["polling", "sse", "websocket"]);
  });

  it("/healthz and /readyz are ok, /metrics is Prometheus text with Herald's series", async () => {
    const health = await getJson(`${hub.url}/healthz`);
    assert.deepEqual([health.status, health.body.status], [200, "ok"]);
    const readiness = await getJson(`${hub.url}/readyz`);
    assert.deepEqual([readiness.status, readiness.body.status], [200, "ready"]);
    await hub.herald.publish("m:1", "x", 1);
    const response = await fetch(`${hub.url}/metrics`);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const text = await response.text();
    for (const name of ["herald_connections", "herald_subscriptions", "herald_events_published_total", "herald_events_delivered_total", "herald_bytes_sent_total", "herald_slow_consumer_disconnects_total", "herald_errors_total"]) {
      assert.match(text, new RegExp(`# TYPE ${name} `), name);
    }
    assert.match(text, /herald_events_published_total\{node="[^"]+"\} 1/);
  });

  it("/api/history returns a channel's recent events", async () => {
    for (let n = 1; n <= 3; n++) await hub.herald.publish("h:1", "x", { n });
    const history = await getJson(`${hub.url}/api/history?channel=h:1&limit=2`);
    assert.deepEqual(history.body.events.map((e: { offset: number }) => e.offset), [2, 3]);
    assert.equal(history.body.offset, 3);
  });
});
