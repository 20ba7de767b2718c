/**
 * Bookkeeping for tests that take a Redis server away under an engine: which publishes it accepted
 * (with their offsets) and which it refused, per channel, and the check that every accepted event
 * was delivered once, in order, with offsets running on as if nothing happened.
 */

import assert from "node:assert/strict";
import type { Engine, StreamEvent } from "../../src/engine/engine.js";

const KEEP = { historySize: 100, historyTtlMs: 60_000 };

export class OutageLedger {
  readonly accepted = new Map<string, number[]>();
  /** The error codes of refused publishes, per channel. */
  readonly refused = new Map<string, string[]>();

  constructor(readonly channels: readonly string[]) {
    for (const name of channels) this.accepted.set(name, []);
  }

  /** Publishes one event to every channel; a refusal is recorded, not thrown. */
  async publishAll(engine: Engine): Promise<void> {
    for (const name of this.channels) {
      try {
        this.accepted.get(name)!.push((await engine.publish(name, "n", null, KEEP)).offset);
      } catch (error) {
        this.refused.set(name, [...(this.refused.get(name) ?? []), (error as { code?: string }).code ?? String(error)]);
      }
    }
  }

  /** Publishes to each channel until one publish is accepted (a server that came back may take a moment). */
  async publishUntilAccepted(engine: Engine, channels: readonly string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const name of channels) {
      for (;;) {
        try {
          this.accepted.get(name)!.push((await engine.publish(name, "n", null, KEEP)).offset);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  }

  /** Waits for the accepted events to arrive, then checks that none was lost, doubled or reordered. */
  async verify(received: readonly StreamEvent[], timeoutMs = 20_000): Promise<void> {
    const expected = [...this.accepted.values()].reduce((sum, offsets) => sum + offsets.length, 0);
    const deadline = Date.now() + timeoutMs;
    while (received.length < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const [name, offsets] of this.accepted) {
      assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => i + 1), `${name}: offsets run on across the outage (nothing accepted was lost)`);
      assert.deepEqual(received.filter((event) => event.channel === name).map((event) => event.offset), offsets, `${name}: every accepted event delivered once, in order`);
    }
  }
}

/** Waits until the engine reports some Redis server unreachable (`gone` true) or none (false). */
export async function untilUnreachable(engine: Engine, gone: boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (((engine.status().details?.unreachable as string[]).length > 0) !== gone) {
    if (Date.now() > deadline) throw new Error(`the engine still reports ${JSON.stringify(engine.status().details?.unreachable)} unreachable`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
