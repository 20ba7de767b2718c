/**
 * Work a publish waits for before it is answered: durable sinks store their deliveries here, so
 * that once a publisher hears "stored", the emails and webhooks the event causes survive a crash.
 *
 * Unlike the hub's listeners, a hook may delay the answer and may fail it: a hook that rejects
 * fails the publish with its error (the event itself is already stored and fanned out, so the
 * hook says so in the error it throws). Hooks also run for a publish replayed by its idempotency
 * key, with the first event's position, so a retry after such a failure completes what the first
 * attempt left undone; hooks must therefore be idempotent for one position.
 */

import type { PublishedEvent } from "../engine/engine.js";

/** Returns a promise when it has work the answer must wait for, nothing when it has none. */
export type PublishHook = (event: PublishedEvent) => Promise<void> | undefined;

export class PublishHooks {
  private readonly hooks = new Set<PublishHook>();

  /** Adds a hook; returns the function that removes it. */
  add(hook: PublishHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  /** Runs every hook; undefined when none had work to wait for (the common, synchronous case). */
  run(event: PublishedEvent): Promise<void> | undefined {
    let pending: Array<Promise<void>> | undefined;
    for (const hook of this.hooks) {
      const work = hook(event);
      if (work) (pending ??= []).push(work);
    }
    if (pending === undefined) return undefined;
    return Promise.all(pending).then(() => undefined);
  }
}
