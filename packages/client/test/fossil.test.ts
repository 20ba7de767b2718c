import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createDelta } from "fossil-delta";
import { applyDelta } from "../src/fossil.js";
import { prng } from "../../server/test/support/prng.js";
import { edited } from "../../server/test/support/edited-bytes.js";

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1");

describe("the client's Fossil delta decoder", () => {
  it("rebuilds every target from the fossil-delta package's deltas, byte for byte", () => {
    const random = prng(7);
    for (let round = 0; round < 2_000; round++) {
      const source = Uint8Array.from({ length: Math.floor(random() * (round % 10 === 0 ? 8 : 3_000)) }, () => Math.floor(random() * 256));
      const target = edited(source, random);
      const delta = createDelta(source, target);
      assert.deepEqual(applyDelta(source, latin1(delta)), target, `round ${round}`);
    }
  });

  it("refuses a delta that does not rebuild its target: a changed byte, a cut, another source", () => {
    const source = new TextEncoder().encode(JSON.stringify({ balance: 1520.25, positions: Array.from({ length: 10 }, (_, i) => ({ symbol: `S${i}`, price: i })) }));
    const target = new TextEncoder().encode(JSON.stringify({ balance: 1498.75, positions: Array.from({ length: 10 }, (_, i) => ({ symbol: `S${i}`, price: i * 2 })) }));
    const delta = latin1(createDelta(source, target));
    assert.deepEqual(applyDelta(source, delta), target);
    const literal = delta.indexOf(":") + 1;
    const changed = delta.slice(0, literal) + String.fromCharCode(delta.charCodeAt(literal) ^ 1) + delta.slice(literal + 1);
    assert.throws(() => applyDelta(source, changed), /did not apply/);
    assert.throws(() => applyDelta(source, delta.slice(0, -4)), /did not apply/);
    // The same length, but the runs the delta copies differ.
    const other = source.map((byte) => (byte === 0x22 ? 0x27 : byte));
    assert.throws(() => applyDelta(other, delta), /did not apply/);
  });
});
