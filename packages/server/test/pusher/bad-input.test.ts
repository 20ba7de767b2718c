/**
 * Bad input on the Pusher endpoint: malformed JSON, unknown events, binary and 1 MB frames,
 * subscribe floods. Each gets Pusher's error frame or a close, never a crash, and the other
 * clients of the node keep receiving.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, type Frame, type RunningHerald } from "../support/herald.js";
import { APP, PusherClient, collect, serverSdk, startPusherHerald, until } from "../support/pusher.js";

const isError = (frame: Frame): boolean => frame.event === "pusher:error";
const open = async (running: RunningHerald): Promise<TestClient> => {
  const client = await TestClient.open(`${running.wsUrl}/app/${APP.key}?protocol=7`);
  await client.next((frame) => frame.event === "pusher:connection_established");
  return client;
};

describe("bad input on the Pusher endpoint", () => {
  let running: RunningHerald;
  let bystander: PusherClient;
  let heard: Array<{ data: unknown }>;
  let round = 0;
  before(async () => {
    running = await startPusherHerald({ limits: { framesPerSecond: 50, frameBurst: 100 } });
    bystander = await PusherClient.connect(running);
    heard = collect(await bystander.subscribe("bystander"), "still-here");
  });
  after(async () => {
    bystander.disconnect();
    await running.close();
  });

  /** After each abuse, a well-behaved client on the same node still receives. */
  async function othersKeepReceiving(): Promise<void> {
    round += 1;
    await serverSdk(running).trigger("bystander", "still-here", { round });
    await until(`the bystander's event ${round}`, () => heard.length === round);
  }

  it("answers malformed JSON, non-objects, frames without an event, unknown events and binary frames with pusher:error, and stays open", async () => {
    const client = await open(running);
    for (const bad of ["{not json", "[1,2]", '"text"', '{"data":{}}', '{"event":42}', JSON.stringify({ event: "pusher:nonsense", data: {} }), JSON.stringify({ event: "whatever" })]) {
      client.send(bad);
      await client.next(isError);
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.next(isError);
    client.send({ event: "pusher:subscribe", data: { channel: "bad channel name!" } });
    assert.equal((await client.next((frame) => frame.event === "pusher:subscription_error")).channel, "bad channel name!");
    client.send({ event: "pusher:subscribe", data: "not an object" });
    await client.next((frame) => frame.event === "pusher:subscription_error");
    client.send({ event: "pusher:ping", data: {} });
    await client.next((frame) => frame.event === "pusher:pong");
    assert.equal(client.closeCode, undefined);
    await client.close();
    await othersKeepReceiving();
  });

  it("closes a connection that sends a 1 MB frame (1009)", async () => {
    const client = await open(running);
    client.send(JSON.stringify({ event: "client-x", channel: "private-x", data: "x".repeat(1024 * 1024) }));
    assert.equal((await client.closed).code, 1009);
    await othersKeepReceiving();
  });

  it("limits a subscribe flood: errors, then a close that says back off (4100), and nothing left behind", async () => {
    const client = await open(running);
    for (let i = 0; i < 1_000; i++) client.send({ event: "pusher:subscribe", data: { channel: `flood-${i}` } });
    await client.next(isError);
    assert.equal((await client.closed).code, 4100);
    await othersKeepReceiving();
    const sdk = serverSdk(running);
    let left = -1;
    for (let attempt = 0; attempt < 50 && left !== 0; attempt++) {
      const listed = (await (await sdk.get({ path: "/channels", params: { filter_by_prefix: "flood-" } })).json()) as { channels: Record<string, unknown> };
      left = Object.keys(listed.channels).length;
      if (left !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(left, 0, "no channel of the closed connection is still listed");
    assert.equal([...running.herald.hub.sessions].length, 1, "only the bystander's session is left");
  });
});
