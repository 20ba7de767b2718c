/**
 * Behind a reverse proxy every connection comes from the proxy. With `trustProxy` naming it, the
 * client's address comes from X-Forwarded-For for per-IP limits and the loopback publish rule;
 * from a peer not listed, those headers are ignored (anyone can write them).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "@herald/server";
import { postJson, startHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";

async function streamFrom(url: string, forwardedFor: string): Promise<number> {
  const stream = await SseReader.openOrRefusal(`${url}/sse?channel=news`, { "x-forwarded-for": forwardedFor });
  if (stream instanceof SseReader) {
    await stream.waitFor("subscribed");
    streams.push(stream);
    return 200;
  }
  return stream.status;
}
const streams: SseReader[] = [];

describe("trusted proxies", () => {
  it("from a trusted proxy, each forwarded client has its own per-IP limit", async () => {
    const hub = await startHerald({ trustProxy: ["127.0.0.1", "::1"], limits: { maxConnectionsPerIp: 1 } });
    try {
      assert.equal(await streamFrom(hub.url, "203.0.113.1"), 200);
      assert.equal(await streamFrom(hub.url, "203.0.113.2"), 200, "another client behind the same proxy");
      // A client cannot pose as another by prepending: the proxy appends what it saw, read from the right.
      assert.equal(await streamFrom(hub.url, "198.51.100.7, 203.0.113.1"), 429, "the same client again is over its cap");
    } finally {
      for (const stream of streams.splice(0)) stream.close();
      await hub.close();
    }
  });

  it("from a peer not trusted, X-Forwarded-For is ignored", async () => {
    const hub = await startHerald({ limits: { maxConnectionsPerIp: 1 } });
    try {
      assert.equal(await streamFrom(hub.url, "203.0.113.1"), 200);
      assert.equal(await streamFrom(hub.url, "203.0.113.2"), 429, "both count as the one peer they came from");
    } finally {
      for (const stream of streams.splice(0)) stream.close();
      await hub.close();
    }
  });

  it("a browser forwarded by a proxy on loopback is not the backend: loopback publishing refuses it", async () => {
    const hub = await startHerald({ trustProxy: ["127.0.0.1", "::1"] });
    try {
      const browser = await postJson(`${hub.url}/api/publish`, { channel: "news", type: "t", data: 1 }, { "x-forwarded-for": "203.0.113.9" });
      assert.equal(browser.status, 401, JSON.stringify(browser.body));
      const local = await postJson(`${hub.url}/api/publish`, { channel: "news", type: "t", data: 1 });
      assert.equal(local.status, 200, "the backend on the same host, with no forwarded header, still publishes");
    } finally {
      await hub.close();
    }
  });

  it("refuses an entry that is neither an address nor a CIDR, naming it", () => {
    assert.throws(() => loadConfig({ env: { HERALD_TRUST_PROXY: "10.0.0.0/8,proxy.local" } }), /trustProxy.*"proxy\.local" is not an IP address or a CIDR/);
  });
});
