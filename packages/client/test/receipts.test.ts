/**
 * The client acknowledges what its handlers handled, on channels the server keeps receipts for,
 * over WebSocket, SSE and polling, batched, and again for the events recovered after a network
 * failure; a backend sees it in GET /api/receipts. Channels without receipts cost no acknowledgement
 * at all.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { getJson, startHerald } from "../../server/test/support/herald.js";
import { waitUntil } from "../../server/test/support/deadline.js";
import { Herald, type TransportName } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { until, waitForState } from "./support/wait.js";

const SECRET = "client-receipts-secret-0123456789";
const API_KEY = "client-receipts-api-key-0123";
const BACKEND = { authorization: `Bearer ${API_KEY}` };

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`${name}\\{[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
  describe(`receipts over ${transport}`, () => {
    it("acknowledges the highest offset whose handlers returned, a burst in few acknowledgements, and none where receipts are off", async () => {
      const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, publish: { apiKeys: [API_KEY] }, namespaces: { inbox: { receipts: true } } });
      const token = await new SignJWT({ sub: "erin" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
      const client = new Herald({ url: hub.url, token, transports: [transport], WebSocket });
      try {
        const handled: number[] = [];
        const inbox = client.subscribe("inbox:erin");
        const news = client.subscribe("news:erin");
        const ready = until(() => inbox.state.status === "subscribed" && news.state.status === "subscribed", "both subscribed");
        inbox.watch(() => ready.poke());
        news.watch(() => ready.poke());
        const all = until(() => handled.length === 20, "20 events handled");
        inbox.on("note", (_data, frame) => {
          handled.push(frame.offset);
          all.poke();
        });
        client.connect();
        await ready.done;
        const acksBefore = await metric(hub.url, "herald_acks_total");
        for (let i = 0; i < 20; i++) await hub.herald.publish("inbox:erin", "note", { i });
        for (let i = 0; i < 5; i++) await hub.herald.publish("news:erin", "note", { i });
        await all.done;
        await waitUntil("erin's receipt at 20", async () => (await getJson(`${hub.url}/api/receipts?channel=inbox:erin&user=erin`, BACKEND)).body.receipts[0]?.offset === 20);
        const acks = (await metric(hub.url, "herald_acks_total")) - acksBefore;
        assert.ok(acks >= 1 && acks < 20, `20 events were acknowledged in ${acks} acknowledgements`);
        assert.equal(await metric(hub.url, "herald_acks_ignored_total"), 0, "nothing for news:, which keeps no receipts, and nothing forged");
      } finally {
        client.disconnect();
        await hub.close();
      }
    });

    it("acknowledges the events recovered after the network failed", async () => {
      const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, publish: { apiKeys: [API_KEY] }, namespaces: { inbox: { receipts: true } } });
      const proxy = await FlakyProxy.start(hub.url);
      const token = await new SignJWT({ sub: "fred" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
      const client = new Herald({ url: proxy.url, token, transports: [transport], WebSocket, reconnect: { minDelay: 50, maxDelay: 200 }, pollTimeout: 2_000 });
      const receiptAt = (offset: number) => waitUntil(`fred's receipt at ${offset}`, async () => (await getJson(`${hub.url}/api/receipts?channel=inbox:fred&user=fred`, BACKEND)).body.receipts[0]?.offset === offset);
      try {
        const inbox = client.subscribe("inbox:fred");
        const ready = until(() => inbox.state.status === "subscribed", "subscribed");
        inbox.watch(() => ready.poke());
        let handled = 0;
        inbox.on("note", () => void handled++);
        client.connect();
        await ready.done;
        for (let i = 0; i < 3; i++) await hub.herald.publish("inbox:fred", "note", { i });
        await receiptAt(3);

        const reconnecting = waitForState(client, "reconnecting");
        proxy.fail();
        await reconnecting;
        // Published while the client is away: handled only once recovered, then acknowledged.
        for (let i = 3; i < 7; i++) await hub.herald.publish("inbox:fred", "note", { i });
        proxy.restore();
        await receiptAt(7);
        assert.equal(handled, 7);
      } finally {
        client.disconnect();
        await proxy.close();
        await hub.close();
      }
    });
  });
}
