import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { anyChannelMatches, channelMatches, parseClientFrame, patternProblem } from "@herald/protocol";

describe("channel patterns", () => {
  it("lets * stand for any run of characters, the empty run included", () => {
    assert.equal(channelMatches("user:*", "user:7"), true);
    assert.equal(channelMatches("user:*", "user:"), true);
    assert.equal(channelMatches("*:orders", "eu:orders"), true);
    assert.equal(channelMatches("a*b*c", "a-x-b-y-c"), true);
    assert.equal(channelMatches("*", "anything/at:all"), true);
    assert.equal(channelMatches("user:*", "users:7"), false);
    assert.equal(channelMatches("user:*", "x-user:7"), false);
  });

  it("reads every other character literally, including the ones a RegExp gives a meaning", () => {
    assert.equal(channelMatches("a.b", "a.b"), true);
    assert.equal(channelMatches("a.b", "axb"), false);
    assert.equal(channelMatches("a.b:*", "axb:1"), false);
    assert.equal(channelMatches("v+1:*", "v+1:x"), true);
    assert.equal(channelMatches("v+1:*", "vv1:x"), false);
    assert.equal(channelMatches("path/to/*", "path/to/file"), true);
    assert.equal(channelMatches("(a|b):*", "a:1"), false);
    assert.equal(channelMatches("[ab]:*", "a:1"), false);
    assert.equal(channelMatches("[ab]:*", "[ab]:1"), true);
    assert.equal(channelMatches("$^\\:*", "$^\\:1"), true);
  });

  it("compares a pattern without * as a whole name", () => {
    assert.equal(channelMatches("bets", "bets"), true);
    assert.equal(channelMatches("bets", "bets:1"), false);
    assert.equal(channelMatches("bets", "bet"), false);
  });

  it("matches when any of several patterns does", () => {
    assert.equal(anyChannelMatches(["bets", "user:*"], "user:3"), true);
    assert.equal(anyChannelMatches(["bets", "user:*"], "vault:3"), false);
    assert.equal(anyChannelMatches([], "bets"), false);
  });

  it("answers the same once more patterns were seen than it keeps compiled", () => {
    for (let i = 0; i < 10_050; i += 1) assert.equal(channelMatches(`n${i}:*`, `n${i}:x`), true);
    assert.equal(channelMatches("n10049:*", "n10049:y"), true);
    assert.equal(channelMatches("n10049:*", "n1004:y"), false);
  });
});

describe("pattern subscriptions' patterns", () => {
  it("takes a pattern that writes its namespace out before the first *", () => {
    for (const pattern of ["orders:*", "user:42:*", "orders:eu-*:fills", "a:*:*"]) assert.equal(patternProblem(pattern), undefined, pattern);
  });

  it("refuses one that could span namespaces with pattern_too_broad, and bad characters with invalid_channel", () => {
    for (const pattern of ["*", "ord*", "*:1", "*orders:1"]) assert.equal(patternProblem(pattern)?.code, "pattern_too_broad", pattern);
    assert.equal(patternProblem("orders:a b*")?.code, "invalid_channel");
    assert.equal(patternProblem(`orders:${"x".repeat(260)}*`)?.code, "invalid_channel");
  });

  it("parses positions per channel and refuses since, and positions the pattern does not match", () => {
    const parsed = parseClientFrame(JSON.stringify({ type: "subscribe", id: 1, channel: "orders:*", positions: { "orders:1": { epoch: "e", offset: 3 } } }));
    assert.deepEqual(parsed, { ok: true, frame: { type: "subscribe", id: 1, channel: "orders:*", positions: { "orders:1": { epoch: "e", offset: 3 } } } });
    const since = parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:*", since: { epoch: "e", offset: 3 } }));
    assert.equal(since.ok ? "" : since.code, "invalid_since");
    const outside = parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:*", positions: { "bets:1": { epoch: "e", offset: 3 } } }));
    assert.equal(outside.ok ? "" : outside.code, "invalid_since");
    const bad = parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:*", positions: { "orders:1": { epoch: "e", offset: -1 } } }));
    assert.equal(bad.ok ? "" : bad.code, "invalid_since");
    const named = parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:1", positions: {} }));
    assert.equal(named.ok ? "" : named.code, "invalid_frame");
  });

  it("parses a pattern subscribe's after, an ISO-8601 time, and refuses anything else, and after on a channel by name", () => {
    for (const after of ["2026-12-04T17:39:58.004Z", "2026-12-04T17:39:58Z", "2026-12-04T18:39:58.004123+01:00"]) {
      assert.deepEqual(parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:*", after })), { ok: true, frame: { type: "subscribe", channel: "orders:*", after } });
    }
    for (const after of ["2026-12-04", "2026-12-04 17:39:58Z", "2026-02-30T25:00:00Z", 1764870000000, {}, ""]) {
      const parsed = parseClientFrame(JSON.stringify({ type: "subscribe", id: 4, channel: "orders:*", after }));
      assert.deepEqual(parsed.ok ? "" : [parsed.code, parsed.id], ["invalid_since", 4], JSON.stringify(after));
    }
    const named = parseClientFrame(JSON.stringify({ type: "subscribe", channel: "orders:1", after: "2026-12-04T17:39:58.004Z" }));
    assert.equal(named.ok ? "" : named.code, "invalid_frame");
  });
});
