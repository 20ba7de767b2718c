import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyDelta } from "fossil-delta";
import { startHerald, TestClient, type Frame, type RunningHerald } from "./support/herald.js";
import { SseReader } from "./support/sse.js";

/** What a client does with a delta frame: the data string holds one byte per character. */
function applied(previousDataJson: string, frame: Frame): string {
  assert.equal(frame.delta, true);
  assert.equal(typeof frame.data, "string");
  const delta = Buffer.from(frame.data as string, "latin1");
  return Buffer.from(applyDelta(Buffer.from(previousDataJson), delta)).toString("utf8");
}

function balance(amount: number, note = "Überweisung — 送金 ✓"): Record<string, unknown> {
  const positions = Array.from({ length: 20 }, (_, i) => ({ symbol: `SYM${i}`, quantity: i * 10, price: 100 + i, note }));
  return { account: "acc-42", currency: "EUR", amount, available: amount - 5, positions };
}

const isEvent = (frame: Frame): boolean => frame.type === "balance_update" || frame.type === "tick";

describe("delta compression (WebSocket, herald envelope)", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { wallet: { delta: true, clientPublish: true, history: { size: 100 } } } });
  });
  after(() => hub.close());

  it("grants delta: fossil and sends the first event full, then deltas that rebuild the data byte for byte", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const subscribed = await client.subscribe("wallet:1", { id: 1, delta: "fossil" });
      assert.equal(subscribed.type, "subscribed");
      assert.equal(subscribed.delta, "fossil");
      const published = [balance(100), balance(101), balance(99.5, "naïve ½ 🙂")];
      for (const data of published) await hub.herald.publish("wallet:1", "balance_update", data);
      const [first, second, third] = await client.take(3, isEvent);
      assert.equal(first!.delta, undefined);
      assert.deepEqual(first!.data, published[0]);
      const secondJson = applied(JSON.stringify(published[0]), second!);
      assert.equal(secondJson, JSON.stringify(published[1]));
      assert.equal(applied(secondJson, third!), JSON.stringify(published[2]));
      assert.equal(second!.offset, 2);
      assert.equal(typeof second!.timestamp, "string");
      assert.ok(String(second!.data).length < JSON.stringify(published[1]).length / 3, "the delta is much smaller than the data");
    } finally {
      await client.close();
    }
  });

  it("a pattern subscription gets deltas per matched channel, each against that channel's previous event", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const subscribed = await client.subscribe("wallet:p-*", { id: 2, delta: "fossil" });
      assert.equal(subscribed.type, "subscribed");
      assert.equal(subscribed.delta, "fossil");
      const a = [balance(1), balance(2), balance(3), balance(4)];
      const b = [balance(10), balance(20), balance(30), balance(40)];
      // Interleaved: each delta must start from its own channel's previous event, not the pattern's.
      for (let i = 0; i < 4; i++) {
        await hub.herald.publish("wallet:p-a", "balance_update", a[i]);
        await hub.herald.publish("wallet:p-b", "balance_update", b[i]);
      }
      const events = await client.take(8, isEvent);
      const rebuilt = new Map<string, string[]>();
      for (const frame of events) {
        const list = rebuilt.get(frame.channel as string) ?? [];
        list.push(frame.delta === true ? applied(list[list.length - 1]!, frame) : JSON.stringify(frame.data));
        rebuilt.set(frame.channel as string, list);
      }
      assert.deepEqual(rebuilt.get("wallet:p-a"), a.map((data) => JSON.stringify(data)));
      assert.deepEqual(rebuilt.get("wallet:p-b"), b.map((data) => JSON.stringify(data)));
      // A channel's first event attaches it (the node starts holding it then): its first two events
      // come whole, every later one as a delta.
      for (const channel of ["wallet:p-a", "wallet:p-b"]) {
        assert.deepEqual(events.filter((frame) => frame.channel === channel).map((frame) => frame.delta === true), [false, false, true, true], channel);
      }
    } finally {
      await client.close();
    }
  });

  it("sends the full event when the delta is not smaller than the data", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe("wallet:small", { delta: "fossil" });
      await hub.herald.publish("wallet:small", "tick", { a: 1 });
      await hub.herald.publish("wallet:small", "tick", { b: 2 });
      const [first, second] = await client.take(2, isEvent);
      assert.deepEqual([first!.delta, first!.data], [undefined, { a: 1 }]);
      assert.deepEqual([second!.delta, second!.data], [undefined, { b: 2 }]);
    } finally {
      await client.close();
    }
  });

  it("gives full events to a subscriber that does not ask, beside one that gets deltas of the same events", async () => {
    const plain = await TestClient.open(`${hub.wsUrl}/ws`);
    const deltas = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const answer = await plain.subscribe("wallet:2");
      assert.equal(answer.delta, undefined);
      await deltas.subscribe("wallet:2", { delta: "fossil" });
      await hub.herald.publish("wallet:2", "balance_update", balance(1));
      await hub.herald.publish("wallet:2", "balance_update", balance(2));
      const full = await plain.take(2, isEvent);
      assert.deepEqual(full.map((frame) => [frame.delta, frame.data]), [[undefined, balance(1)], [undefined, balance(2)]]);
      const [, second] = await deltas.take(2, isEvent);
      assert.equal(applied(JSON.stringify(balance(1)), second!), JSON.stringify(balance(2)));
    } finally {
      await plain.close();
      await deltas.close();
    }
  });

  it("sends a full event after one the subscriber was not sent, then deltas again", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const connected = await client.next("connected");
      await client.subscribe("wallet:3", { delta: "fossil" });
      await hub.herald.publish("wallet:3", "balance_update", balance(1));
      // An event that names this connection as its sender never goes back to it (as a Pusher socket_id does).
      await hub.herald.hub.publish("wallet:3", "balance_update", balance(2), undefined, { connectionId: connected.connectionId as string });
      await hub.herald.publish("wallet:3", "balance_update", balance(3));
      await hub.herald.publish("wallet:3", "balance_update", balance(4));
      const [first, third, fourth] = await client.take(3, isEvent);
      assert.deepEqual([first!.offset, third!.offset, fourth!.offset], [1, 3, 4]);
      assert.equal(third!.delta, undefined, "offset 2 never reached this client: no base for a delta");
      assert.deepEqual(third!.data, balance(3));
      assert.equal(applied(JSON.stringify(balance(3)), fourth!), JSON.stringify(balance(4)));
    } finally {
      await client.close();
    }
  });

  it("recovers with full events, then sends deltas again", async () => {
    for (let n = 1; n <= 3; n++) await hub.herald.publish("wallet:4", "balance_update", balance(n));
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const answer = await client.subscribe("wallet:4", { delta: "fossil", since: { epoch: (await hub.herald.hub.history("wallet:4", {})).epoch, offset: 1 } });
      assert.equal(answer.recovered, true);
      assert.equal(answer.delta, "fossil");
      const recovered = await client.take(2, isEvent);
      assert.deepEqual(recovered.map((frame) => [frame.offset, frame.delta, frame.data]), [[2, undefined, balance(2)], [3, undefined, balance(3)]]);
      await hub.herald.publish("wallet:4", "balance_update", balance(4));
      await hub.herald.publish("wallet:4", "balance_update", balance(5));
      const [fourth, fifth] = await client.take(2, isEvent);
      // Offset 3 was published before this node held the channel: it has no base for offset 4.
      assert.deepEqual([fourth!.delta, fourth!.data], [undefined, balance(4)]);
      assert.equal(applied(JSON.stringify(balance(4)), fifth!), JSON.stringify(balance(5)));
    } finally {
      await client.close();
    }
  });

  it("refuses an unknown delta format with unsupported_delta and keeps the connection", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const error = await client.subscribe("wallet:5", { id: "d1", delta: "vcdiff" });
      assert.deepEqual([error.type, error.id, error.code], ["error", "d1", "unsupported_delta"]);
      assert.match(String(error.message), /"fossil"/);
      const answer = await client.subscribe("wallet:5", { id: "d2", delta: "fossil" });
      assert.equal(answer.delta, "fossil");
    } finally {
      await client.close();
    }
  });

  it("sends full events, and no delta field, in a namespace without the option", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const answer = await client.subscribe("plain:1", { delta: "fossil" });
      assert.equal(answer.type, "subscribed");
      assert.equal("delta" in answer, false);
      await hub.herald.publish("plain:1", "balance_update", balance(1));
      await hub.herald.publish("plain:1", "balance_update", balance(2));
      const frames = await client.take(2, isEvent);
      assert.deepEqual(frames.map((frame) => [frame.delta, frame.data]), [[undefined, balance(1)], [undefined, balance(2)]]);
    } finally {
      await client.close();
    }
  });
});

describe("delta compression over Server-Sent Events", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({ namespaces: { wallet: { delta: true } } });
  });
  after(() => hub.close());

  it("with delta=fossil, a stream gets subscribed with delta: fossil, a whole event, then deltas", async () => {
    const stream = await SseReader.open(`${hub.url}/sse?channel=wallet:sse&delta=fossil`);
    try {
      const [subscribed] = await stream.waitFor("subscribed");
      assert.equal(subscribed!.data.delta, "fossil");
      for (const n of [1, 2, 3]) await hub.herald.publish("wallet:sse", "balance_update", balance(n));
      const [first, second, third] = await stream.waitFor("balance_update", 3);
      assert.deepEqual([first!.data.delta, first!.data.data], [undefined, balance(1)]);
      const secondJson = applied(JSON.stringify(balance(1)), second!.data);
      assert.equal(secondJson, JSON.stringify(balance(2)));
      assert.equal(applied(secondJson, third!.data), JSON.stringify(balance(3)));
    } finally {
      stream.close();
    }
  });

  it("without delta, a stream gets whole events", async () => {
    const stream = await SseReader.open(`${hub.url}/sse?channel=wallet:sse-plain`);
    try {
      const [subscribed] = await stream.waitFor("subscribed");
      assert.equal("delta" in subscribed!.data, false);
      for (const n of [1, 2]) await hub.herald.publish("wallet:sse-plain", "balance_update", balance(n));
      const events = await stream.waitFor("balance_update", 2);
      assert.deepEqual(events.map((record) => [record.data.delta, record.data.data]), [[undefined, balance(1)], [undefined, balance(2)]]);
    } finally {
      stream.close();
    }
  });

  it("refuses an unknown delta format with 400 unsupported_delta", async () => {
    const answer = await SseReader.openOrRefusal(`${hub.url}/sse?channel=wallet:sse&delta=vcdiff`);
    assert.ok(!(answer instanceof SseReader));
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "unsupported_delta");
    assert.match(answer.body.error.message, /"fossil"/);
  });
});

describe("delta compression in the figures", () => {
  it("counts a delta frame's own bytes in herald_namespace_bytes_sent_total", async () => {
    const hub = await startHerald({ namespaces: { ledger: { delta: true } } });
    const deltas = await TestClient.open(`${hub.wsUrl}/ws`);
    const whole = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await deltas.subscribe("ledger:1", { delta: "fossil" });
      await whole.subscribe("ledger:1");
      let received = 0;
      for (const client of [deltas, whole]) client.socket.on("message", (data: Buffer) => (received += data.length));
      for (const n of [1, 2, 3]) await hub.herald.publish("ledger:1", "balance_update", balance(n));
      const [, second] = await deltas.take(3, isEvent);
      await whole.take(3, isEvent);
      assert.equal(second!.delta, true);
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      const line = metrics.split("\n").find((text) => text.startsWith('herald_namespace_bytes_sent_total{namespace="ledger"'));
      assert.equal(Number(line?.slice(line.lastIndexOf(" ") + 1)), received, "the bytes both subscribers received");
    } finally {
      await deltas.close();
      await whole.close();
      await hub.close();
    }
  });
});

