/**
 * Users online and offline, cluster-wide and without flapping: `online` when a user's first
 * connection arrives on any node or worker, `offline` only when their last one is gone and the
 * grace passed without a return. A reload, a tab switch or a network blip inside the grace makes
 * no change at all.
 *
 * Lifecycle: a WebSocket or SSE session counts once it has a user (at once, or when its token is
 * checked); it stops counting when it closes. A poll is a request, not a connection: it never
 * counts. The counting, the deadlines and who hands out an offline user live in the engine (its
 * contract's point 8), so every transition is reported by exactly one node: the node where the
 * first connection arrived reports `online`; whichever node's sweep claims the deadline reports
 * `offline`, also for the users of a node that died (once its connections expired).
 *
 * Ordering: one node's calls for one connection reach the engine in the order they are made (one
 * Redis connection, one IPC pipe, or the memory engine itself), so a disconnect never overtakes
 * its connect.
 */

import type { Logger } from "pino";
import type { Engine } from "../engine/engine.js";
import type { HubListeners } from "./hub-listeners.js";
import type { Session } from "./session.js";
import { PeriodicSweep } from "../shared/periodic-sweep.js";

export interface OnlineUsersOptions {
  /** How long a user stays online after their last connection closed, in ms. */
  readonly graceMs: number;
  /** How often this node claims the deadlines that passed, in ms. */
  readonly sweepIntervalMs: number;
  readonly logger?: Logger;
}

export class OnlineUsers {
  private readonly counted = new Set<Session>();
  private readonly sweeper: PeriodicSweep;

  constructor(
    private readonly engine: Engine,
    private readonly listeners: HubListeners,
    private readonly options: OnlineUsersOptions,
  ) {
    this.sweeper = new PeriodicSweep(() => this.claim(), options.sweepIntervalMs, (error) => this.failed("claim", error));
  }

  start(): void {
    this.sweeper.start();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }

  /** A session arrived: counted now if it has a user, else once it gets one. */
  added(session: Session): void {
    if (session.transport === "polling") return;
    if (session.user !== undefined) this.count(session);
    else session.onIdentified = (identified) => this.count(identified);
  }

  /** A session closed: its user may go offline after the grace. */
  removed(session: Session): void {
    session.onIdentified = undefined;
    if (!this.counted.delete(session)) return;
    this.engine.userDisconnect(session.id).catch((error: unknown) => this.failed("disconnect", error));
  }

  /** Claims the deadlines that passed; the users handed to this node go offline here. */
  sweep(): Promise<void> {
    return this.sweeper.run();
  }

  private async claim(): Promise<void> {
    const users = await this.engine.claimOffline();
    const at = new Date().toISOString();
    for (const user of users) this.listeners.emit("user", { user, online: false, at });
  }

  /** Users the engine counted online again by itself (see EngineHandler.onUsersOnline). */
  back(users: readonly string[]): void {
    const at = new Date().toISOString();
    for (const user of users) this.listeners.emit("user", { user, online: true, at });
  }

  private count(session: Session): void {
    const user = session.user;
    if (user === undefined || session.closed || this.counted.has(session)) return;
    this.counted.add(session);
    this.engine.userConnect(user, session.id, this.options.graceMs).then(
      (first) => {
        if (first) this.listeners.emit("user", { user, online: true, at: new Date().toISOString() });
      },
      (error: unknown) => this.failed("connect", error),
    );
  }

  private failed(what: string, error: unknown): void {
    this.options.logger?.warn({ err: (error as Error).message, what }, "users online: the engine did not take the change; it settles when the connection's entry is next refreshed or expires");
  }
}
