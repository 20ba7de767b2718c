import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyDelta, createDelta } from "fossil-delta";
import { fossilDeltaLatin1, fossilDeltaOfTexts } from "../src/hub/fossil-encoder.js";
import { prng } from "./support/prng.js";
import { edited } from "./support/edited-bytes.js";

/** What any Fossil decoder makes of the encoder's delta: here the `fossil-delta` package's. */
function rebuilt(source: Uint8Array, target: Uint8Array): Buffer {
  return Buffer.from(applyDelta(source, Buffer.from(fossilDeltaLatin1(source, target), "latin1")));
}

describe("the server's Fossil delta encoder", () => {
  it("makes deltas another Fossil decoder applies byte for byte, on random edits of random bytes", () => {
    const random = prng(11);
    for (let round = 0; round < 2_000; round++) {
      // Every tenth source is tiny (no block to index), some are runs of few distinct bytes (long hash chains).
      const alphabet = round % 7 === 0 ? 3 : 256;
      const source = Uint8Array.from({ length: Math.floor(random() * (round % 10 === 0 ? 20 : 3_000)) }, () => Math.floor(random() * alphabet));
      const target = edited(source, random);
      assert.deepEqual(rebuilt(source, target), Buffer.from(target), `round ${round}`);
    }
  });

  it("on JSON documents that change a few fields, its deltas are as small as the package's", () => {
    const random = prng(5);
    const state = { balance: 1520.25, note: "Überweisung — 送金 ✓", positions: Array.from({ length: 18 }, (_, i) => ({ symbol: `SYM${i}`, price: 100 + i, pnl: 0 })) };
    let previous = Buffer.from(JSON.stringify(state));
    let ours = 0;
    let theirs = 0;
    for (let step = 0; step < 500; step++) {
      state.balance = Math.round(random() * 1e6) / 100;
      state.positions[step % 18]!.price = Math.round(random() * 1e5) / 100;
      state.positions[(step * 7) % 18]!.pnl = -Math.round(random() * 1e4);
      const next = Buffer.from(JSON.stringify(state));
      assert.deepEqual(rebuilt(previous, next), next, `step ${step}`);
      ours += fossilDeltaLatin1(previous, next).length;
      theirs += createDelta(previous, next).length;
      previous = next;
    }
    assert.ok(ours <= theirs * 1.05, `${ours} bytes of deltas against the package's ${theirs}`);
    assert.ok(ours * 5 < previous.length * 500, "a delta is a fraction of the document");
  });

  it("from texts: the delta is over their UTF-8 bytes, multi-byte characters and texts larger than its buffers included", () => {
    const texts = [
      JSON.stringify({ note: "Überweisung — 送金 ✓ 🙂", n: 1 }),
      JSON.stringify({ note: "Überweisung — 送金 ✗ 🙃", n: 2 }),
      JSON.stringify({ note: "naïve ½".repeat(2_000), n: 3 }),
      JSON.stringify({ note: "naïve ¾".repeat(2_001), n: 4 }),
      "",
      "{}",
    ];
    for (let i = 1; i < texts.length; i++) {
      const [source, target] = [Buffer.from(texts[i - 1]!), Buffer.from(texts[i]!)];
      const delta = Buffer.from(fossilDeltaOfTexts(texts[i - 1]!, texts[i]!), "latin1");
      assert.equal(Buffer.from(applyDelta(source, delta)).toString("utf8"), texts[i], `text ${i}`);
      assert.deepEqual(delta, Buffer.from(fossilDeltaLatin1(source, target), "latin1"), "the same delta as from the bytes");
    }
  });

  it("handles the edges: empty source or target, identical texts, a large repetitive document", () => {
    const text = (value: string): Buffer => Buffer.from(value);
    for (const [source, target] of [
      [text(""), text("{}")],
      [text("{\"a\":1}"), text("")],
      [text("x".repeat(100)), text("x".repeat(100))],
      [Buffer.alloc(200_000, 0x61), Buffer.concat([Buffer.alloc(100_000, 0x61), text("—"), Buffer.alloc(100_001, 0x61)])],
    ] as const) {
      assert.deepEqual(rebuilt(source, target), target);
    }
    // Identical documents: one copy command, a handful of bytes.
    const same = Buffer.from(JSON.stringify({ positions: Array.from({ length: 50 }, (_, i) => ({ i })) }));
    assert.ok(fossilDeltaLatin1(same, same).length < 20);
  });
});
