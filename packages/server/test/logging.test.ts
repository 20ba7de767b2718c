import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { REDACTED_PATHS, createLogger } from "../src/ops/logger.js";
import { TestClient, getJson, postJson, startHerald } from "./support/herald.js";
import { rawSocket, readUntilClosed } from "./security/attack-support.js";
import { waitUntil } from "./support/deadline.js";

/** A trace-level logger whose output is kept in memory. */
function capturedLogger() {
  const captured = { text: "" };
  const sink = new Writable({
    write(chunk, _encoding, done) {
      captured.text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger("trace", {}, sink), captured };
}

// A Buffer reaches JSON logs as {"type":"Buffer","data":[83,69,…]}: look for the bytes too.
const SECRET_BYTES = [...Buffer.from("SECRET")].join(",");

function secretLines(logs: string): string {
  return logs.split("\n").filter((line) => line.includes("SECRET") || line.includes(SECRET_BYTES)).join("\n");
}

describe("structured logs", () => {
  it("log an error given as its message as that text, and an Error with its message and stack", () => {
    const { logger, captured } = capturedLogger();
    logger.warn({ err: "connect ECONNREFUSED 127.0.0.1:25" }, "email not sent; will retry");
    logger.error({ err: new Error("HTTP 500") }, "webhook dead-lettered");
    const [text, error] = captured.text.trim().split("\n").map((line) => JSON.parse(line) as { err: unknown });
    assert.equal(text!.err, "connect ECONNREFUSED 127.0.0.1:25");
    assert.equal((error!.err as { message: string }).message, "HTTP 500");
    assert.match((error!.err as { stack: string }).stack, /HTTP 500/);
  });

  it("never contain tokens, API keys or query strings, even at trace level", async () => {
    const { logger, captured } = capturedLogger();
    const apiKey = "publish-key-0123456789-SECRET";
    const hub = await startHerald({ publish: { apiKeys: [apiKey] } }, { logger });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=ws-token-SECRET`);
    await client.subscribe("user:log");
    await postJson(`${hub.url}/api/publish`, { channel: "user:log", type: "t", data: 1 }, { authorization: `Bearer ${apiKey}` });
    await postJson(`${hub.url}/api/publish`, { channel: "user:log", type: "t", data: 1 }, { authorization: "Bearer wrong-key-SECRET" });
    await getJson(`${hub.url}/api/updates?channel=user:log&token=poll-token-SECRET`);
    await client.close();
    await hub.close();
    const logs = captured.text;
    assert.ok(logs.includes("request done"), "requests were logged");
    assert.ok(logs.includes("/api/updates?…"), "the path is logged without its query");
    assert.equal(secretLines(logs), "", "a secret reached the logs");
    assert.ok(REDACTED_PATHS.includes("req.headers.authorization"));
  });

  it("names a bridge once in each of its lines", async () => {
    const { logger, captured } = capturedLogger();
    // Nothing listens at this address: subscribing makes the bridge try, fail and log its states.
    const hub = await startHerald(
      { bridges: [{ name: "coindcx", url: "ws://127.0.0.1:9/feed", protocol: "websocket", map: [{ match: {}, channel: "feed:all", type: "tick" }], channels: ["feed:*"], linger: 0 }] },
      { logger },
    );
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    await client.subscribe("feed:all");
    await waitUntil("the bridge to log its state", async () => captured.text.includes('"msg":"bridge state"'));
    await client.close();
    await hub.close();
    const lines = captured.text.split("\n").filter((line) => line.includes('"coindcx"'));
    assert.ok(lines.length > 0);
    for (const line of lines) assert.equal(line.split('"bridge":"coindcx"').length - 1, 1, line);
  });

  // Node refuses these before any route and attaches the raw request bytes to the error it raises.
  const unparsable = [
    { name: "headers over Node's limit (431)", status: 431, code: "headers_too_large", extra: `X-Padding: ${"a".repeat(20_000)}\r\n` },
    { name: "a malformed header line (400)", status: 400, code: "malformed_request", extra: "this is not a header\r\n" },
  ];
  for (const { name, status, code, extra } of unparsable) {
    it(`a request Node cannot parse, ${name}, is logged at trace level without its token or key`, async () => {
      const { logger, captured } = capturedLogger();
      const hub = await startHerald({ publish: { apiKeys: ["publish-key-0123456789-SECRET"] } }, { logger });
      let answer: string;
      try {
        const socket = await rawSocket(hub);
        const received = readUntilClosed(socket);
        socket.write(
          `GET /api/history?channel=user:log&token=query-token-SECRET HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
            `Authorization: Bearer publish-key-0123456789-SECRET\r\nCookie: session=cookie-SECRET\r\n${extra}\r\n`,
        );
        answer = (await received).toString();
      } finally {
        await hub.close();
      }
      const logs = captured.text;
      assert.equal(secretLines(logs), "", `a secret reached the logs:\n${secretLines(logs).slice(0, 600)}`);
      const line = logs.split("\n").find((entry) => entry.includes(`client error: ${code}`));
      assert.ok(line, `the refusal was logged:\n${logs.slice(-2000)}`);
      assert.equal(JSON.parse(line).level, 10, "at trace level");
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), answer.slice(0, 200));
      assert.equal(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error.code, code);
    });
  }
});
