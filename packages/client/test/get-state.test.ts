/**
 * State without a gap (`subscribe(channel, { getState })`) against a real Herald: the app's
 * backend is played by the test, which publishes, keeps its state and the position each publish
 * answered, and serves both from getState.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { createHerald, type Herald as Hub } from "@herald/server";
import { startHerald } from "../../server/test/support/herald.js";
import { Herald, type EventFrame, type LoadedState, type StateLoadedContext, type StreamPosition, type TransportName } from "../src/index.js";
import { until } from "./support/wait.js";

/** The app's backend: a list of numbers, and the stream position it reflects. */
class Backend {
  items: number[] = [];
  position: StreamPosition = { epoch: "", offset: 0 };
  private n = 0;
  constructor(
    public hub: Hub,
    readonly channel: string,
  ) {}

  async add(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const n = ++this.n;
      const published = await this.hub.publish(this.channel, "added", { n });
      this.items.push(n);
      this.position = { epoch: published.epoch, offset: published.offset };
    }
  }

  read(): LoadedState<number[]> {
    return { state: [...this.items], position: { ...this.position } };
  }

  get expected(): number[] {
    return Array.from({ length: this.n }, (_, i) => i + 1);
  }
}

/** A page's view: the loaded state, with every event after it applied. */
function follow(client: Herald, channel: string, getState: () => Promise<LoadedState<number[]>>) {
  const view = { state: undefined as number[] | undefined, loads: [] as StateLoadedContext[] };
  const subscription = client.subscribe<{ added: { n: number } }, number[]>(channel, { getState });
  const changed = new Set<() => void>();
  const poke = () => {
    for (const check of changed) check();
  };
  subscription.on("state_loaded", (context) => {
    view.loads.push(context);
    view.state = [...(context.state as number[])];
    poke();
  });
  subscription.onEvent((event: EventFrame) => {
    view.state?.push((event.data as { n: number }).n);
    poke();
  });
  const reach = (expected: number[], what: string) => {
    const wait = until(() => JSON.stringify(view.state) === JSON.stringify(expected), `${what}: ${JSON.stringify(expected)} (now ${JSON.stringify(view.state)})`);
    changed.add(wait.poke);
    return wait.done.finally(() => changed.delete(wait.poke));
  };
  return { view, subscription, reach };
}

describe("subscribe with getState", () => {
  for (const transport of ["websocket", "sse", "polling"] as TransportName[]) {
    it(`${transport}: events published between the state read and the subscription are each applied once`, async () => {
      const hub = await startHerald();
      const backend = new Backend(hub.herald, "user:state");
      const client = new Herald({ url: hub.url, transports: [transport], WebSocket, pollTimeout: 2_000 });
      try {
        await backend.add(3);
        client.connect();
        let calls = 0;
        const { view, reach } = follow(client, "user:state", async () => {
          calls += 1;
          const read = backend.read();
          // Published after the state was read, before the SDK subscribes.
          await backend.add(3);
          return read;
        });
        await reach([1, 2, 3, 4, 5, 6], "the state and the events after it");
        await backend.add(2);
        await reach(backend.expected, "live events");
        assert.equal(calls, 1);
        assert.deepEqual(view.loads.map((load) => [load.reason, load.position.offset]), [["subscribe", 3]]);
      } finally {
        client.disconnect();
        await hub.close();
      }
    });
  }

  it("a state older than the channel another handle holds gets the missing events from history, each once", async () => {
    const hub = await startHerald();
    const backend = new Backend(hub.herald, "user:late");
    const client = new Herald({ url: hub.url, WebSocket });
    try {
      client.connect();
      const plain = client.subscribe<{ added: { n: number } }>("user:late");
      const seen: number[] = [];
      const all = until(() => seen.length >= 5, "the plain handle's 5 events");
      plain.on("added", (data) => {
        seen.push(data.n);
        all.poke();
      });
      const subscribed = until(() => plain.state.status === "subscribed", "subscribed");
      plain.watch(subscribed.poke);
      await subscribed.done;
      await backend.add(2);
      const stale = backend.read();
      await backend.add(3);
      await all.done;
      // The backend answers a state two publishes behind what the channel has delivered.
      const { reach } = follow(client, "user:late", async () => stale);
      // Caught up from history at once, not only when the next event shows the gap.
      await reach([1, 2, 3, 4, 5], "the state and the events history fills in");
      await backend.add(1);
      await reach(backend.expected, "the state, the events history fills in, then live ones");
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });

  it("after a memory-engine restart, calls getState again by itself and the state is right", async () => {
    let hub = await startHerald();
    const port = hub.herald.port;
    const backend = new Backend(hub.herald, "user:restart");
    const client = new Herald({ url: hub.url, WebSocket, reconnect: { minDelay: 50, maxDelay: 200 } });
    try {
      await backend.add(2);
      client.connect();
      let calls = 0;
      const { view, reach } = follow(client, "user:restart", async () => {
        calls += 1;
        const read = backend.read();
        // Published after the state was read: after the restart, the first event of the new epoch.
        await backend.add(1);
        return read;
      });
      await reach([1, 2, 3], "the first state and the event after it");
      await backend.add(1);
      await reach([1, 2, 3, 4], "a live event");

      await hub.close();
      const restarted = await createHerald({ config: { logLevel: "silent" } });
      await restarted.listen({ port, host: "127.0.0.1" });
      hub = { ...hub, herald: restarted, close: () => restarted.close() };
      backend.hub = restarted;
      // Published in the new epoch while the client may or may not be back yet.
      await backend.add(1);
      const reloaded = until(() => view.loads.length >= 2, "getState called again");
      const timer = setInterval(reloaded.poke, 20);
      await reloaded.done.finally(() => clearInterval(timer));
      await backend.add(2);
      await reach(backend.expected, "the reloaded state and the events after it");
      assert.equal(calls, 2);
      assert.deepEqual(view.loads.map((load) => load.reason), ["subscribe", "recovery_failed"]);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });
});
