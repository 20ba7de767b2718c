/**
 * The fan-out's hand-built WebSocket text frames (hub/websocket-frame.ts, PreparedEvent) are
 * written to sockets around ws's Sender, so nothing in ws checks them on the way out: these tests
 * check the bytes against RFC 6455 and against what ws itself writes and reads, at every boundary
 * of the payload-length encoding (125/126, 65535/65536 bytes).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex, Writable } from "node:stream";
import * as wsModule from "ws";
import WebSocket, { WebSocketServer } from "ws";
import { encodeTextFrame } from "../../src/hub/websocket-frame.js";
import { PreparedEvent } from "../../src/hub/prepared-event.js";
import { deadline } from "../support/deadline.js";

// ws's framing classes, exported by its ES module entry but not declared by @types/ws.
const ws = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean }) => Writable;
  Sender: { frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] };
};

/** A payload of exactly `bytes` UTF-8 bytes, ending in multi-byte characters (when it has room) so bytes ≠ characters. */
function payloadOf(bytes: number): Buffer {
  const tail = bytes >= 5 ? "é✓" : ""; // 2 + 3 bytes
  const text = "a".repeat(bytes - Buffer.byteLength(tail)) + tail;
  const buffer = Buffer.from(text);
  assert.equal(buffer.length, bytes);
  return buffer;
}

/** What ws's own Sender writes for an unmasked, final text frame. */
function framedByWs(payload: Buffer): Buffer {
  return Buffer.concat(ws.Sender.frame(payload, { fin: true, rsv1: false, opcode: 0x1, mask: false, readOnly: true }));
}

/** Decodes frames as a ws client does (a client refuses masked frames from a server). */
async function decodeAsClient(bytes: Buffer, expected: number): Promise<Array<{ text: string; isBinary: boolean }>> {
  const receiver = new ws.Receiver({ isServer: false });
  const messages: Array<{ text: string; isBinary: boolean }> = [];
  const done = new Promise<void>((resolve, reject) => {
    receiver.on("error", reject);
    receiver.on("message", (data: Buffer, isBinary: boolean) => {
      messages.push({ text: data.toString(), isBinary });
      if (messages.length === expected) resolve();
    });
  });
  receiver.write(bytes);
  await deadline(done, () => `${expected} messages from ws's Receiver; got ${messages.length}`);
  return messages;
}

// Header bytes per RFC 6455 §5.2: 0x81 = FIN + text opcode; the second byte's top bit (MASK) is clear;
// lengths up to 125 in 7 bits, then 126 + 16-bit big-endian, then 127 + 64-bit big-endian.
const BOUNDARIES: Array<{ length: number; header: number[] }> = [
  { length: 0, header: [0x81, 0] },
  { length: 125, header: [0x81, 125] },
  { length: 126, header: [0x81, 126, 0x00, 0x7e] },
  { length: 65_535, header: [0x81, 126, 0xff, 0xff] },
  { length: 65_536, header: [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00] },
];

describe("WebSocket text frames built once per event", () => {
  for (const { length, header } of BOUNDARIES) {
    it(`frames a ${length}-byte payload with the RFC 6455 header, unmasked, byte for byte as ws does`, () => {
      const payload = payloadOf(length);
      const frame = encodeTextFrame(payload);
      assert.deepEqual([...frame.subarray(0, header.length)], header);
      assert.equal(frame[1]! & 0x80, 0, "the MASK bit is clear: servers never mask");
      assert.ok(frame.subarray(header.length).equals(payload), "the payload follows the header unchanged");
      assert.equal(frame.length, header.length + length);
      assert.ok(frame.equals(framedByWs(payload)), "the same bytes as ws's Sender writes");
    });
  }

  it("is read back by ws's client-side Receiver as the same text messages, back to back in one stream", async () => {
    const payloads = BOUNDARIES.map(({ length }) => (payloadOf(length)));
    // One stream: a length field off by a byte would shift every frame after it.
    const messages = await decodeAsClient(Buffer.concat(payloads.map(encodeTextFrame)), payloads.length);
    assert.deepEqual(
      messages.map((message) => message.isBinary),
      payloads.map(() => false),
      "text frames, not binary",
    );
    assert.deepEqual(
      messages.map((message) => message.text),
      payloads.map((payload) => payload.toString()),
    );
  });

  it("frames a PreparedEvent's UTF-8 bytes, whose length is not the text's length", async () => {
    // 1 + 2 + 3 + 4 UTF-8 bytes for 4 characters (the last a surrogate pair in JavaScript).
    const data = { note: "aé✓😀".repeat(20) };
    const prepared = new PreparedEvent({ channel: "room:1", type: "said", data, epoch: "e1", offset: 7, time: Date.UTC(2024, 0, 2, 3, 4, 5) });
    const frame = prepared.webSocketFrame("herald");
    const bytes = Buffer.from(prepared.text("herald"));
    assert.ok(bytes.length >= 126 && prepared.text("herald").length < bytes.length, "the test needs a byte length past 125 that differs from the string length");
    assert.deepEqual([...frame.subarray(0, 4)], [0x81, 126, bytes.length >> 8, bytes.length & 0xff]);
    assert.equal(prepared.webSocketFrame("herald"), frame, "encoded once, then reused for every subscriber");
    const [message] = await decodeAsClient(frame, 1);
    assert.deepEqual(JSON.parse(message!.text), { type: "said", channel: "room:1", data, offset: 7, epoch: "e1", timestamp: "2024-01-02T03:04:05.000Z" });
  });

  it("reaches a real ws client when written to the raw socket between ws's own frames", async () => {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const server: Server = createServer();
    server.on("upgrade", (request, socket: Duplex, head) => {
      wss.handleUpgrade(request, socket, head, (serverSide) => {
        // As WebSocketSession does: ws's frames and the prebuilt ones share one socket, in order.
        serverSide.send("first, from ws");
        for (const { length } of BOUNDARIES) socket.write(encodeTextFrame(payloadOf(length)));
        serverSide.send("last, from ws");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const expected = ["first, from ws", ...BOUNDARIES.map(({ length }) => payloadOf(length).toString()), "last, from ws"];
      const received: Array<{ text: string; isBinary: boolean }> = [];
      const all = new Promise<void>((resolve, reject) => {
        client.on("error", reject);
        client.on("close", (code) => reject(new Error(`the client closed with ${code}`)));
        client.on("message", (data, isBinary) => {
          received.push({ text: (data as Buffer).toString(), isBinary });
          if (received.length === expected.length) resolve();
        });
      });
      await deadline(all, () => `${expected.length} messages on the client; got ${received.length}`);
      assert.deepEqual(
        received.map((message) => message.text),
        expected,
      );
      assert.deepEqual(received.map((message) => message.isBinary), expected.map(() => false), "every message arrives as text");
    } finally {
      client.terminate();
      wss.close();
      server.close();
    }
  });
});
