import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createHerald } from "@herald/server";
import { TestClient, getJson } from "./support/herald.js";

describe("mounted on an existing Node HTTP server", () => {
  it("shares the server: the app's own routes, Herald's WebSocket and HTTP API, publishes from the app's handlers", async () => {
    const herald = await createHerald({ config: { logLevel: "silent" } });
    // The app's own request handler, as seeds 1, 3 and 5 have: it changes data and broadcasts.
    const server = createServer((request, response) => {
      if (request.url?.startsWith("/api/") || request.url?.startsWith("/sse")) return herald.handleRequest(request, response);
      if (request.method === "POST" && request.url === "/anchors") {
        void herald.publish("analytics:anchors", "anchor_update", { anchor_id: "a1", status: "green" }).then(() => {
          response.writeHead(201).end();
        });
        return;
      }
      response.writeHead(200, { "content-type": "text/plain" }).end("the app");
    });
    herald.attach(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;

    assert.equal(await (await fetch(`http://${base}/`)).text(), "the app");
    const client = await TestClient.open(`ws://${base}/ws`);
    await client.subscribe("analytics:anchors");
    assert.equal((await fetch(`http://${base}/anchors`, { method: "POST" })).status, 201);
    assert.deepEqual((await client.next("anchor_update")).data, { anchor_id: "a1", status: "green" });
    const status = await getJson(`http://${base}/api/status`);
    assert.equal(status.body.connections, 1);

    await client.close();
    await herald.close();
    server.close();
    await once(server, "close");
  });
});
