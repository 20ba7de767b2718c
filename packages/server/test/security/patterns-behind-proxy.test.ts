/**
 * Pattern subscriptions in the deployment the docs recommend: a reverse proxy on the same host,
 * so every browser arrives from loopback (with X-Forwarded-For from a trusted proxy, or with no
 * header at all from one that sends none). A pattern over a personal namespace must reveal
 * nothing to a connection without the user's token, on WebSocket, SSE and polling, whatever
 * address it seems to come from.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, getJson, startHerald, type Frame, type RunningHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";
import { SECRET, hs256 } from "./attack-support.js";

const isNote = (frame: Frame): boolean => frame.type === "note";

describe("pattern subscriptions behind a reverse proxy on loopback", () => {
  let hub: RunningHerald;
  before(async () => {
    hub = await startHerald({
      trustProxy: ["127.0.0.1", "::1"],
      auth: { jwt: { secret: SECRET } },
      namespaces: { user: { personal: true }, orders: { subscribe: "public" } },
    });
  });
  after(() => hub.close());

  /** Events of user:42 and then a public marker; returns once the marker has been published. */
  const publishSecretThenMarker = async (marker: number): Promise<void> => {
    await hub.herald.publish("user:42", "note", { secret: true });
    await hub.herald.publish("orders:marker", "note", { marker });
  };

  for (const [who, headers] of [
    ["a browser forwarded by the proxy (X-Forwarded-For)", { "x-forwarded-for": "203.0.113.9" }],
    ["a browser through a proxy that sends no forwarded header", {}],
  ] as const) {
    it(`WebSocket, ${who}, no token: user:* delivers nothing of user:42`, async () => {
      const client = await TestClient.open(`${hub.wsUrl}/ws`, { headers });
      try {
        const answer = await client.subscribe("user:*", { id: "mine" });
        // The pattern is taken; each channel it matches is asked about on its own, and user:42 is refused silently.
        assert.equal(answer.type, "subscribed", JSON.stringify(answer));
        await client.subscribe("orders:*", { id: "marker" });
        for (const marker of [1, 2]) {
          await publishSecretThenMarker(marker);
          await client.next((frame) => isNote(frame) && (frame.data as { marker?: number }).marker === marker);
        }
        assert.equal(client.frames.some((frame) => frame.channel === "user:42"), false, "no frame of user:42");
      } finally {
        await client.close();
      }
    });

    it(`SSE, ${who}, no token: user:* delivers nothing of user:42`, async () => {
      const stream = await SseReader.open(`${hub.url}/sse?channel=user:*&channel=orders:*`, headers);
      try {
        await stream.waitFor("subscribed");
        for (const marker of [1, 2]) {
          await publishSecretThenMarker(marker);
          await stream.waitFor("note", marker);
        }
        assert.equal(stream.records.some((record) => record.data?.channel === "user:42"), false, "no record of user:42");
      } finally {
        stream.close();
      }
    });

    it(`polling, ${who}, no token: user:* answers nothing of user:42, now or from history`, async () => {
      await hub.herald.publish("user:42", "note", { secret: true });
      const first = await getJson(`${hub.url}/api/updates?channel=user:*`, headers);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const waiting = getJson(`${hub.url}/api/updates?channel=user:*&timeout=2s&since=${first.body.cursor}`, headers);
      await hub.herald.publish("user:42", "note", { secret: true });
      const answered = await waiting;
      assert.equal(answered.status, 200);
      assert.deepEqual([...first.body.updates, ...answered.body.updates].filter((event: Frame) => event.channel === "user:42"), []);
    });
  }

  it("the user's own token behind the same proxy gets user:42 through user:* (the check is the token, not the address)", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "42" }, { expiresIn: "1h" })}`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    try {
      await client.subscribe("user:*");
      await hub.herald.publish("user:42", "note", { n: 1 });
      const [event] = await client.take(1, isNote);
      assert.equal(event!.channel, "user:42");
    } finally {
      await client.close();
    }
  });
});
