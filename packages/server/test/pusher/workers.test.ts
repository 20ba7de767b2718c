/**
 * The Pusher endpoint under `herald serve --workers 2` (the CLI as users start it, the memory
 * engine held by the primary): pusher-js clients spread over both workers act as one hub.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningHerald } from "../support/herald.js";
import { startNodeProcess, type NodeProcess } from "../support/node-process.js";
import { APP, PusherClient, collect, serverSdk, settle, until } from "../support/pusher.js";

describe("Pusher under herald serve --workers 2", () => {
  let hub: NodeProcess | undefined;
  const clients: PusherClient[] = [];
  after(async () => {
    for (const client of clients) client.disconnect();
    await hub?.kill("SIGTERM");
  });

  it("delivers a trigger to pusher-js on both workers and announces a user with tabs on both once", async () => {
    hub = await startNodeProcess("pusher-workers", { HERALD_PUSHER_APP_ID: APP.id, HERALD_PUSHER_KEY: APP.key, HERALD_PUSHER_SECRET: APP.secret }, 60_000, ["--workers", "2"]);
    // What the test clients need of a running Herald: its port.
    const running = { herald: { port: Number(new URL(hub.url).port) } } as unknown as RunningHerald;
    const watcher = await PusherClient.connect(running, { user: { user_id: "watcher" } });
    clients.push(watcher);
    const room = await watcher.subscribePresence("presence-workers");
    const added = collect(room, "pusher:member_added");
    // The primary hands connections to the workers in turn: three tabs land on both.
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = await PusherClient.connect(running, { user: { user_id: "dora" } });
      clients.push(tab);
      tabs.push(tab);
      await tab.subscribePresence("presence-workers");
    }
    await until("dora announced", () => added.length >= 1);
    const news = await Promise.all([watcher, ...tabs].map(async (client) => collect(await client.subscribe("news"), "flash")));
    await serverSdk(running).trigger("news", "flash", { n: 1 });
    await until("every client gets the trigger", () => news.every((heard) => heard.length === 1));
    await settle();
    assert.deepEqual(added.map((member) => (member.data as { id?: string }).id ?? member.data), ["dora"], "one member_added for three tabs");
    assert.equal((room as unknown as { members: { count: number } }).members.count, 2, "watcher and dora");
  });
});
