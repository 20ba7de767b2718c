import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { REDACTED_PATHS } from "../src/ops/logger.js";
import { TestClient, getJson, postJson, startHerald } from "./support/herald.js";

describe("structured logs", () => {
  it("never contain tokens, API keys or query strings, even at trace level", async () => {
    let logs = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    const { createLogger } = await import("../src/ops/logger.js");
    const logger = createLogger("trace", {}, sink);
    const apiKey = "publish-key-0123456789-SECRET";
    const hub = await startHerald({ publish: { apiKeys: [apiKey] } }, { logger });
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=ws-token-SECRET`);
    await client.subscribe("user:log");
    await postJson(`${hub.url}/api/publish`, { channel: "user:log", type: "t", data: 1 }, { authorization: `Bearer ${apiKey}` });
    await postJson(`${hub.url}/api/publish`, { channel: "user:log", type: "t", data: 1 }, { authorization: "Bearer wrong-key-SECRET" });
    await getJson(`${hub.url}/api/updates?channel=user:log&token=poll-token-SECRET`);
    await client.close();
    await hub.close();
    assert.ok(logs.includes("request done"), "requests were logged");
    assert.ok(logs.includes("/api/updates?…"), "the path is logged without its query");
    assert.equal(logs.includes("SECRET"), false, `a secret reached the logs:\n${logs.split("\n").filter((l) => l.includes("SECRET")).join("\n")}`);
    assert.ok(REDACTED_PATHS.includes("req.headers.authorization"));
  });
});
