import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseClientFrame } from "@herald/protocol";
import { compileTagFilter, tagsProblem } from "@herald/protocol/tag-filter";

function matches(filter: string, tags: Record<string, string> | undefined): boolean {
  const compiled = compileTagFilter(filter);
  assert.equal(compiled.ok, true, compiled.ok ? "" : compiled.message);
  return compiled.ok && compiled.matches(tags);
}

describe("tag filters", () => {
  it("evaluates equality, in, presence, and/or and parentheses", () => {
    const btcFill = { symbol: "BTC", kind: "fill", severity: "warn" };
    const ethCancel = { symbol: "ETH", kind: "cancel" };
    const table: Array<[string, Record<string, string> | undefined, boolean]> = [
      ["symbol=BTC", btcFill, true],
      ["symbol=BTC", ethCancel, false],
      ["symbol=BTC", undefined, false],
      ["symbol in (BTC,ETH) and severity", btcFill, true],
      ["symbol in (BTC, ETH) and severity", ethCancel, false],
      ["symbol IN (SOL)", btcFill, false],
      ["kind=fill or kind=cancel", ethCancel, true],
      ["kind=fill or kind=cancel", { kind: "new" }, false],
      ["severity", btcFill, true],
      ["severity", ethCancel, false],
      // `and` binds tighter than `or`.
      ["kind=cancel or symbol=BTC and kind=cancel", ethCancel, true],
      ["kind=cancel or symbol=BTC and kind=cancel", btcFill, false],
      ["(kind=cancel or symbol=BTC) and kind=fill", btcFill, true],
      ['note="a b \\"c\\""', { note: 'a b "c"' }, true],
      ['"and"="or"', { and: "or" }, true],
      ["user:id=42 and path=/a/b", { "user:id": "42", path: "/a/b" }, true],
      ["toString", {}, false],
      ["constructor=x", {}, false],
    ];
    for (const [filter, tags, expected] of table) assert.equal(matches(filter, tags), expected, `${filter} on ${JSON.stringify(tags)}`);
  });

  it("refuses a bad filter with a message naming what was expected and where", () => {
    const table: Array<[string, RegExp]> = [
      ["", /filter is empty/],
      ["   ", /filter is empty/],
      ["symbol=", /expected a value at position 8, found the end of the filter/],
      ["symbol==BTC", /expected a value at position 8, found "="/],
      ["symbol=BTC and", /expected a tag key or "\(" at position 15, found the end/],
      ["symbol=BTC kind=fill", /expected "and", "or" or the end of the filter at position 12, found "kind"/],
      ["(symbol=BTC", /expected "and", "or" or "\)" at position 12, found the end/],
      ["symbol=BTC)", /expected "and", "or" or the end of the filter at position 11, found "\)"/],
      ["symbol in BTC", /expected "\(" after "in" at position 11, found "BTC"/],
      ["symbol in (BTC ETH)", /expected "," or "\)" at position 16, found "ETH"/],
      ["symbol in ()", /expected a value at position 12, found "\)"/],
      ["and=1", /expected a tag key or "\(" at position 1, found "and"/],
      ["symbol=BTC & kind=fill", /unexpected character "&" at position 12/],
      ['note="open', /unterminated quoted string starting at position 6/],
      ['note="a\\n"', /only \\" and \\\\ may be escaped/],
      ["x".repeat(1025), /1025 characters long; the limit is 1024/],
      [Array.from({ length: 65 }, (_, i) => `k${i}`).join(" or "), /more than 64 conditions/],
      [`k in (${Array(257).fill("v").join(",")})`, /more than 256 values/],
      [`${"(".repeat(9)}k${")".repeat(9)}`, /parentheses nest deeper than 8 at position 9/],
    ];
    for (const [filter, message] of table) {
      const compiled = compileTagFilter(filter);
      assert.equal(compiled.ok, false, filter);
      if (!compiled.ok) assert.match(compiled.message, message, filter.slice(0, 60));
    }
  });

  it("checks publish tags: string values, key characters and the limits", () => {
    assert.equal(tagsProblem({ symbol: "BTC", "user:id": "7" }), undefined);
    assert.match(tagsProblem(["BTC"])!, /tags must be an object/);
    assert.match(tagsProblem({ symbol: 1 })!, /tags\.symbol must be a string/);
    assert.match(tagsProblem({ "a b": "x" })!, /tag key "a b" may contain only/);
    assert.match(tagsProblem({ ["k".repeat(65)]: "x" })!, /must be 1 to 64 characters/);
    assert.match(tagsProblem({ k: "v".repeat(257) })!, /257 characters long; the limit is 256/);
    assert.match(tagsProblem(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])))!, /33 keys; the limit is 32/);
  });

  it("carries filter and tags through the client frames", () => {
    const subscribe = parseClientFrame(JSON.stringify({ type: "subscribe", id: 1, channel: "orders", filter: "symbol=BTC" }));
    assert.deepEqual(subscribe, { ok: true, frame: { type: "subscribe", id: 1, channel: "orders", filter: "symbol=BTC" } });
    assert.deepEqual(parseClientFrame(JSON.stringify({ type: "subscribe", id: 2, channel: "orders", filter: 5 })), { ok: false, code: "invalid_filter", message: 'subscribe.filter must be a string such as "symbol=BTC"', id: 2 });
    const publish = parseClientFrame(JSON.stringify({ type: "publish", channel: "chat", event: "m", data: null, tags: { room: "a" } }));
    assert.deepEqual(publish, { ok: true, frame: { type: "publish", channel: "chat", event: "m", data: null, tags: { room: "a" } } });
    const bad = parseClientFrame(JSON.stringify({ type: "publish", id: 3, channel: "chat", event: "m", data: null, tags: { room: 1 } }));
    assert.deepEqual(bad, { ok: false, code: "invalid_tags", message: "publish.tags.room must be a string", id: 3 });
  });
});
