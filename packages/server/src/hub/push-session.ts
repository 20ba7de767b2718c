/**
 * A session whose events are pushed through one Node writable: the SSE response, or the
 * WebSocket's TCP socket. What they share is how a slow reader is treated. The bytes written for
 * the client that it has not read yet are its backlog: past half of `sendQueueBytes` the session is
 * congested (a bulk sender such as recovery waits for `drained()`), past all of it the client is
 * cut loose rather than buffered without bound.
 */

import type { Writable } from "node:stream";
import { CloseCodes, type EnvelopeName } from "@herald/protocol";
import { Session, type TransportName } from "./session.js";
import type { HubStats } from "./stats.js";

export abstract class PushSession extends Session {
  constructor(
    id: string,
    transport: TransportName,
    remoteAddress: string,
    envelope: EnvelopeName,
    private readonly output: Writable,
    private readonly sendQueueBytes: number,
    protected readonly stats: HubStats,
  ) {
    super(id, transport, remoteAddress, envelope);
  }

  /** Bytes written for the client that it has not read yet. */
  protected get backlog(): number {
    return this.output.writableLength;
  }

  get congested(): boolean {
    return this.backlog > this.sendQueueBytes / 2;
  }

  /**
   * Closes the session when its backlog passed the cap, and says whether it did; `channel` is the
   * event's that found it over, whose namespace the disconnect is counted in. Such a client
   * reads slower than we publish; it reconnects and recovers what it missed with `since`.
   */
  protected closedAsSlowConsumer(channel: string): boolean {
    if (this.backlog <= this.sendQueueBytes) return false;
    this.stats.slowConsumerDisconnects += 1;
    this.stats.namespaces.of(channel).slowConsumerDisconnects += 1;
    this.close(CloseCodes.slow_consumer.code, "slow consumer: send queue over limit; reconnect and resume with since");
    return true;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      // A destroyed output never emits `drain` again, whatever its backlog.
      if (this.closed || this.output.destroyed || !this.congested) return setImmediate(resolve);
      const done = (): void => {
        this.output.off("drain", done);
        this.output.off("close", done);
        resolve();
      };
      this.output.on("drain", done);
      this.output.on("close", done);
    });
  }
}
