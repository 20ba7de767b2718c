/**
 * The memory engine as `herald serve --workers` shares it: held by one EngineHost (the primary's
 * side) and used by several IpcEngines (one per worker), over pipes that serialise each message as
 * Node's IPC channel does. The real processes are tested in workers.test.ts.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EngineHost } from "../../src/engine/engine-host.js";
import type { StreamEvent } from "../../src/engine/engine.js";
import { IpcEngine } from "../../src/engine/ipc-engine.js";
import { MemoryEngine } from "../../src/engine/memory.js";
import { isHeraldError } from "../../src/shared/herald-error.js";
import { IpcPeer } from "../../src/shared/ipc-peer.js";
import { ipcPair, type IpcPair } from "../support/ipc-pair.js";
import { runEngineSuite } from "./engine-suite.js";

const KEEP = { historySize: 100, historyTtlMs: 60_000 };

const host = new EngineHost(new MemoryEngine());
await host.start();
after(() => host.close());

/** A worker's engine joined to the host, and the pipe between them. */
function worker(): { engine: IpcEngine; pipe: IpcPair } {
  const pipe = ipcPair();
  host.serve(new IpcPeer(pipe.a));
  return { engine: new IpcEngine(new IpcPeer(pipe.b), "memory"), pipe };
}

runEngineSuite("memory engine in the primary, over IPC", { create: () => worker().engine, shared: true });

describe("engine over IPC: a worker that goes away", () => {
  it("leaves nothing behind: its connections leave presence, and the other workers' deliveries go on", async () => {
    const [stays, dies] = [worker(), worker()];
    const seen: StreamEvent[] = [];
    await stays.engine.start({ onEvent: (event) => seen.push(event) });
    await dies.engine.start({ onEvent: () => undefined });
    const channel = "room:gone";
    await dies.engine.subscribe(channel);
    await stays.engine.subscribe(channel);
    const entry = (connectionId: string) => ({ connectionId, transport: "websocket", node: "w", connectedAt: new Date().toISOString() });
    await dies.engine.addPresence(channel, entry("on-dead-worker"));
    await stays.engine.addPresence(channel, entry("on-live-worker"));
    dies.pipe.close();
    await waitFor(async () => (await stays.engine.presence(channel)).length === 1);
    assert.deepEqual((await stays.engine.presence(channel)).map((e) => e.connectionId), ["on-live-worker"]);
    await stays.engine.publish(channel, "after", 1, KEEP);
    await waitFor(() => seen.length === 1);
    assert.equal(seen[0]!.type, "after");
    await stays.engine.close();
  });

  it("refuses calls once its pipe is closed: engine_unavailable, and engine_timeout for a publish already sent", async () => {
    const lone = worker();
    const changes: boolean[] = [];
    await lone.engine.start({ onEvent: () => undefined, onAvailabilityChange: (available) => changes.push(available) });
    const inFlight = lone.engine.publish("room:cut", "x", 1, KEEP);
    lone.pipe.close();
    await assert.rejects(inFlight, (error) => isHeraldError(error, "engine_timeout"));
    await assert.rejects(lone.engine.publish("room:cut", "x", 2, KEEP), (error) => isHeraldError(error, "engine_unavailable"));
    await assert.rejects(lone.engine.history("room:cut", {}, KEEP), (error) => isHeraldError(error, "engine_unavailable"));
    assert.deepEqual(changes, [false]);
    assert.equal(lone.engine.status().available, false);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
