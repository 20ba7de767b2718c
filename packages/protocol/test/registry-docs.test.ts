import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CloseCodes, ErrorCodes, RetryableErrorCodes, closeAction, isRetryable } from "@herald/protocol";

const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

function section(title: string): string {
  const start = doc.indexOf(`## ${title}`);
  assert.ok(start >= 0, `docs/protocol.md has a "## ${title}" section`);
  const end = doc.indexOf("\n## ", start + 3);
  return doc.slice(start, end === -1 ? undefined : end);
}

describe("docs/protocol.md agrees with the code registry", () => {
  it("lists every error code with its HTTP status and description, and no other", () => {
    const rows = [...section("Error codes").matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const registry = Object.entries(ErrorCodes).map(([code, info]) => [code, info.status, info.description]);
    assert.deepEqual(rows, registry);
  });

  it("names exactly the retryable codes of the registry", () => {
    const line = /^Retryable codes: (.+)\.$/m.exec(section("Error codes"));
    assert.ok(line, 'docs/protocol.md has a "Retryable codes: ..." line under Error codes');
    const documented = [...line[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).sort();
    assert.deepEqual(documented, [...RetryableErrorCodes].sort());
    for (const code of RetryableErrorCodes) assert.ok(isRetryable(code) && code in ErrorCodes, code);
    assert.equal(isRetryable("forbidden"), false);
  });

  it("lists every close code with its action and description, and no other", () => {
    const rows = [...section("Close codes").matchAll(/^\| (\d{4}) \| `([a-z_]+)` \| (reconnect|stop) \| (.+) \|$/gm)].map((m) => [Number(m[1]), m[2], m[3], m[4]]);
    const registry = Object.entries(CloseCodes).map(([name, info]) => [info.code, name, info.action, info.description]);
    assert.deepEqual(rows, registry);
  });

  it("closeAction follows each close code's documented action", () => {
    for (const info of Object.values(CloseCodes)) assert.equal(closeAction(info.code), info.action, String(info.code));
    assert.equal(closeAction(1006), "reconnect");
    assert.equal(closeAction(4999), "stop");
    assert.equal(closeAction(4499), "reconnect");
  });
});
