import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeCursor, encodeCursor, parseClientFrame } from "@herald/protocol";

describe("client frame validation", () => {
  it("accepts every client frame of the contract", () => {
    for (const frame of [
      { type: "subscribe", id: 1, channel: "user:1", since: { epoch: "e", offset: 3 }, token: "t" },
      { type: "unsubscribe", id: "x", channel: "user:1" },
      { type: "publish", channel: "chat:1", event: "message", data: { text: "hi" } },
      { type: "auth", token: "t" },
      { type: "ping" },
      { type: "pong" },
    ]) {
      const result = parseClientFrame(JSON.stringify(frame));
      assert.equal(result.ok, true, JSON.stringify(frame));
      if (result.ok) assert.deepEqual(result.frame, frame);
    }
  });

  it("names the field at fault", () => {
    const result = parseClientFrame(JSON.stringify({ type: "publish", channel: "c", event: "e" }));
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.message, /publish\.data/);
  });

  it("round-trips cursors, including non-ASCII channel-free epochs, and rejects garbage", () => {
    const cursor = { "user:1": { epoch: "aB_-9", offset: 12 }, "bets:all": { epoch: "x", offset: 0 } };
    assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
    assert.equal(decodeCursor("not a cursor!"), undefined);
    assert.equal(decodeCursor(encodeCursor({ a: { epoch: "e", offset: 1 } }).slice(0, 5)), undefined);
  });
});
