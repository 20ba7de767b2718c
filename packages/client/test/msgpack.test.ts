/**
 * The client over MessagePack (`format: msgpack` from @herald/client/msgpack) against the real
 * server: every frame on the wire is binary both ways, events and control frames reach the app as
 * with JSON, client publish and its answer, a refused subscribe with its code, receipts, and
 * recovery through network failures.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { getJson, startHerald } from "../../server/test/support/herald.js";
import { waitUntil } from "../../server/test/support/deadline.js";
import { Herald, type SubscriptionErrorContext } from "../src/index.js";
import { msgpack } from "../src/msgpack.js";
import { FlakyProxy } from "./support/proxy.js";
import { connectSubscribed, dropAndResubscribe, until } from "./support/wait.js";

const SECRET = "client-msgpack-secret-0123456789";
const API_KEY = "client-msgpack-api-key-0123";

/** The `ws` package, counting what crosses the wire and remembering the URLs it was opened with. */
function countingWebSocket(): { Impl: new (url: string) => WebSocket; wire: { binaryIn: number; textIn: number; binaryOut: number; textOut: number; urls: string[] } } {
  const wire = { binaryIn: 0, textIn: 0, binaryOut: 0, textOut: 0, urls: [] as string[] };
  class Counting extends WebSocket {
    constructor(url: string) {
      super(url);
      wire.urls.push(url);
      this.on("message", (_data, isBinary) => (isBinary ? (wire.binaryIn += 1) : (wire.textIn += 1)));
    }
    override send(data: unknown, ...rest: unknown[]): void {
      if (typeof data === "string") wire.textOut += 1;
      else wire.binaryOut += 1;
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  return { Impl: Counting, wire };
}

const tokenFor = (sub: string): Promise<string> => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

describe("@herald/client over MessagePack", () => {
  it("subscribes, receives events, publishes, hears a refusal and acknowledges, all in binary frames", async () => {
    const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, publish: { apiKeys: [API_KEY] }, namespaces: { chat: { clientPublish: true }, inbox: { receipts: true }, user: { personal: true } } });
    const { Impl, wire } = countingWebSocket();
    const client = new Herald({ url: hub.url, token: await tokenFor("finn"), transports: ["websocket"], WebSocket: Impl, format: msgpack });
    try {
      const room = client.subscribe<{ said: { text: string } }>("chat:room");
      const inbox = client.subscribe<{ note: { i: number } }>("inbox:finn");
      const ready = until(() => room.state.status === "subscribed" && inbox.state.status === "subscribed", "both subscribed");
      room.watch(() => ready.poke());
      inbox.watch(() => ready.poke());
      const errors: SubscriptionErrorContext[] = [];
      const forbidden = client.subscribe("user:someone-else");
      const refused = until(() => errors.length > 0, "the refusal");
      forbidden.on("error", (context) => {
        errors.push(context);
        refused.poke();
      });
      const said: string[] = [];
      const heard = until(() => said.length === 2, "two messages");
      room.on("said", (data) => {
        said.push(data.text);
        heard.poke();
      });
      const notes: number[] = [];
      const noted = until(() => notes.length === 3, "three notes");
      inbox.on("note", (data) => {
        notes.push(data.i);
        noted.poke();
      });
      client.connect();
      await ready.done;
      await hub.herald.publish("chat:room", "said", { text: "from the backend" });
      const published = await client.publish("chat:room", "said", { text: "from the client" });
      assert.equal(published.channel, "chat:room");
      assert.equal(typeof published.offset, "number");
      await heard.done;
      assert.deepEqual(said, ["from the backend", "from the client"]);
      await refused.done;
      assert.equal(errors[0]!.code, "forbidden");
      for (let i = 1; i <= 3; i++) await hub.herald.publish("inbox:finn", "note", { i });
      await noted.done;
      await waitUntil("finn's receipt at 3", async () => (await getJson(`${hub.url}/api/receipts?channel=inbox:finn&user=finn`, { authorization: `Bearer ${API_KEY}` })).body.receipts[0]?.offset === 3);
      assert.match(wire.urls[0]!, /[?&]format=msgpack(&|$)/);
      assert.equal(wire.textIn, 0, "no text frame from the server");
      assert.equal(wire.textOut, 0, "no text frame to the server");
      assert.ok(wire.binaryIn >= 8 && wire.binaryOut >= 5, JSON.stringify(wire));
    } finally {
      client.disconnect();
      await hub.close();
    }
  });

  it("recovers every missed event once, in order, after network failures", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url);
    const { Impl, wire } = countingWebSocket();
    const client = new Herald({ url: proxy.url, transports: ["websocket"], WebSocket: Impl, format: msgpack, reconnect: { minDelay: 50, maxDelay: 200 } });
    try {
      const offsets: number[] = [];
      const subscription = client.subscribe<{ tick: { n: number } }>("user:gus");
      const total = 30;
      const all = until(() => offsets.length >= total, `${total} events`);
      subscription.on("tick", (data, frame) => {
        assert.equal(data.n, frame.offset);
        offsets.push(frame.offset);
        all.poke();
      });
      const subscribed = await connectSubscribed(client, subscription);
      let n = 0;
      const publish = (count: number) => Promise.all(Array.from({ length: count }, () => hub.herald.publish("user:gus", "tick", { n: ++n })));
      await publish(10);
      for (let cut = 0; cut < 2; cut++) {
        await dropAndResubscribe(client, proxy, subscribed, () => publish(5));
        await publish(5);
      }
      await all.done;
      assert.deepEqual(offsets, Array.from({ length: total }, (_, i) => i + 1));
      assert.deepEqual(subscribed.contexts.map((context) => context.recovered), [false, true, true]);
      assert.equal(wire.urls.length, 3);
      assert.equal(wire.textIn + wire.textOut, 0);
    } finally {
      client.disconnect();
      await proxy.close();
      await hub.close();
    }
  });
});
