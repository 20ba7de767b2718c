/**
 * /metrics per namespace: a scripted scenario (10 events to `bets:`, 5 to `user:`, resumes with
 * `since`) moves each series by what it should, and unconfigured namespaces cannot grow the labels
 * past their bound.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, postJson, startHerald, type RunningHerald } from "./support/herald.js";

/** The value of one series of the exposition text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.lastIndexOf("}"));
    const pairs = Object.fromEntries([...inside.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([key, value]) => pairs[key] === value)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("metrics per namespace", () => {
  let hub: RunningHerald;
  const metrics = async (): Promise<string> => (await fetch(`${hub.url}/metrics`)).text();

  before(async () => {
    hub = await startHerald({ history: { size: 100 }, namespaces: { user: { history: { size: 100 } } } });
  });
  after(async () => {
    await hub.close();
  });

  it("counts publishes, deliveries, bytes and latency per namespace as a scripted scenario says", async () => {
    const better = await TestClient.open(`${hub.wsUrl}/ws`);
    const phone = await TestClient.open(`${hub.wsUrl}/ws`);
    const laptop = await TestClient.open(`${hub.wsUrl}/ws`);
    await better.subscribe("bets:match-1");
    await phone.subscribe("user:1");
    await laptop.subscribe("user:1");
    let betBytes = 0;
    better.socket.on("message", (data: Buffer) => (betBytes += data.length));

    for (let i = 0; i < 10; i++) await postJson(`${hub.url}/api/publish`, { channel: "bets:match-1", type: "odds", data: { i } });
    for (let i = 0; i < 5; i++) await postJson(`${hub.url}/api/publish`, { channel: "user:1", type: "balance", data: { i } });
    await better.take(10, "odds");
    await phone.take(5, "balance");
    await laptop.take(5, "balance");

    const text = await metrics();
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "bets" }), 10);
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "user" }), 5);
    assert.equal(sample(text, "herald_namespace_events_delivered_total", { namespace: "bets" }), 10);
    assert.equal(sample(text, "herald_namespace_events_delivered_total", { namespace: "user" }), 10, "five events to two connections");
    assert.equal(sample(text, "herald_namespace_bytes_sent_total", { namespace: "bets" }), betBytes, "the bytes the subscriber received");
    // One latency observation per event on this node, not one per socket.
    assert.equal(sample(text, "herald_namespace_delivery_latency_seconds_count", { namespace: "bets" }), 10);
    assert.equal(sample(text, "herald_namespace_delivery_latency_seconds_count", { namespace: "user" }), 5);
    assert.equal(sample(text, "herald_namespace_delivery_latency_seconds_bucket", { namespace: "user", le: "+Inf" }), 5);
    await Promise.all([better.close(), phone.close(), laptop.close()]);
  });

  it("counts resumes with since by outcome: recovered, or not (an epoch of another stream)", async () => {
    const first = await TestClient.open(`${hub.wsUrl}/ws`);
    const subscribed = await first.subscribe("user:2");
    await postJson(`${hub.url}/api/publish`, { channel: "user:2", type: "balance", data: {} });
    await first.next("balance");
    await first.close();

    const back = await TestClient.open(`${hub.wsUrl}/ws`);
    assert.equal((await back.subscribe("user:2", { since: { epoch: subscribed.epoch, offset: subscribed.offset } })).recovered, true);
    const stale = await TestClient.open(`${hub.wsUrl}/ws`);
    assert.equal((await stale.subscribe("user:3", { since: { epoch: "another-epoch", offset: 1 } })).recovered, false);
    const text = await metrics();
    assert.equal(sample(text, "herald_namespace_recoveries_total", { namespace: "user", outcome: "recovered" }), 1);
    assert.equal(sample(text, "herald_namespace_recoveries_total", { namespace: "user", outcome: "not_recovered" }), 1);
    await Promise.all([back.close(), stale.close()]);
  });

  it("keeps the labels bounded: configured namespaces and the first 32 others by name, the rest as other", async () => {
    // `bets` is the first unconfigured namespace seen (above); 31 more get their names, then `other`.
    for (let i = 0; i < 40; i++) await postJson(`${hub.url}/api/publish`, { channel: `ns${i}:x`, type: "t", data: {} });
    const text = await metrics();
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "ns30" }), 1);
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "ns31" }), undefined);
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "other" }), 9);
    assert.equal(sample(text, "herald_namespace_events_published_total", { namespace: "user" }), 6, "a configured namespace keeps its name");
  });
});
