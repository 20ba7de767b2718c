/**
 * The fan-out's MessagePack frames (PreparedEvent.binaryWebSocketFrame): one binary WebSocket
 * frame per event and envelope, the same Buffer for every MessagePack subscriber, holding the
 * JSON frame's fields in the same order, as read by an independent decoder (@msgpack/msgpack).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { ENVELOPES } from "@herald/protocol";
import { PreparedEvent } from "../../src/hub/prepared-event.js";

describe("PreparedEvent's MessagePack frame", () => {
  const event = { channel: "room:1", type: "said", data: { text: "hé ✓", n: 3, nested: { ok: true, list: [1, 2.5, null] } }, epoch: "e1", offset: 7, time: Date.UTC(2024, 0, 2, 3, 4, 5) };

  it("is built once per event and envelope, and shared", () => {
    const prepared = new PreparedEvent(event);
    for (const envelope of ENVELOPES) {
      const frame = prepared.binaryWebSocketFrame(envelope);
      assert.equal(prepared.binaryWebSocketFrame(envelope), frame, "the same Buffer for the next subscriber");
      assert.equal(frame[0], 0x82, "FIN + binary opcode");
    }
  });

  it("carries the JSON frame's fields, in the JSON frame's key order, for every envelope", () => {
    const prepared = new PreparedEvent(event);
    for (const envelope of ENVELOPES) {
      const json = JSON.parse(prepared.text(envelope)) as Record<string, unknown>;
      const payload = prepared.msgpack(envelope);
      const frame = prepared.binaryWebSocketFrame(envelope);
      const header = payload.length < 126 ? 2 : 4;
      assert.equal(header === 2 ? frame[1] : frame.readUInt16BE(2), payload.length, "the payload length (RFC 6455 §5.2)");
      assert.deepEqual(frame.subarray(header), payload);
      const decoded = decode(payload) as Record<string, unknown>;
      assert.deepEqual(decoded, json, envelope);
      assert.deepEqual(Object.keys(decoded), Object.keys(json), envelope);
    }
  });
});
