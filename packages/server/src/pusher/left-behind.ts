/**
 * What a node that dies leaves behind on Pusher channels, reported by a node that is still up: a
 * killed node never takes its entries out (they expire after `engine.presenceTtl`), so without
 * this no `member_removed` / `channel_vacated` webhook would ever be posted for them.
 *
 * Each node of an app with webhooks stores, in the engine's due queue (its contract's point 10),
 * one item per channel it holds Pusher subscribers of and one per presence member it holds
 * entries of, and completes the item when its own leave reports (occupancy.ts). Each node also
 * keeps a presence entry of its own under LIVE, which the engine refreshes while the node runs
 * and lets expire when it dies. The items come due presenceTtl after they were stored and every
 * lease after that; whichever node claims one (one node per claim) puts it back if the node that
 * stored it is still live, and otherwise decides as that node's leave would have: it takes the
 * dead node's entries out and reads what is left in the same atomic step (engine.leavePresence),
 * and reports `channel_vacated` when no node holds the channel any more, `member_removed` when
 * the user has no entry left on any node. So a dead node's channels and members are reported once
 * across the nodes left, presenceTtl to 1.5× presenceTtl after it died.
 *
 * A node completes an item before it takes the entry out, so the item of a node that leaves in
 * time is never also decided by another node; one that dies between the two leaves the change
 * unreported. Nodes holding the same channel or member that die within one presenceTtl of each
 * other may each have it reported.
 */

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Engine, PresenceEntry } from "../engine/engine.js";
import type { PusherApp, PusherApps } from "./apps.js";
import { counted, nodesOf } from "./occupancy-keys.js";
import type { PusherWebhooks } from "./webhooks.js";
import { PeriodicSweep } from "../shared/periodic-sweep.js";

const QUEUE = "pusher-left-behind";
/** The presence key of the running nodes: an entry per node process, refreshed by its engine. */
const LIVE = "#pusher-live";
const CLAIM_LIMIT = 100;
/** Claims per sweep at most: a backlog is worked off over the next sweeps. */
const CLAIM_ROUNDS = 10;

/** An item of the queue: what a node holds. */
interface Held {
  /** The node process that stored it (its entry under LIVE). */
  readonly owner: string;
  /** Its node name, as its presence entries name it. */
  readonly node: string;
  readonly app: string;
  readonly channel: string;
  /** The channel's Pusher name. */
  readonly name: string;
  /** For a member's item: the user. */
  readonly user?: string;
}

export interface LeftBehindOptions {
  /** `engine.presenceTtl`: how long a dead node's entries outlive it. */
  readonly presenceTtlMs: number;
  readonly logger: Logger;
}

export class LeftBehind {
  /** This process: a node restarted under the same name is another owner. */
  private readonly owner: string;
  private readonly leaseMs: number;
  private sequence = 0;
  private readonly sweeper: PeriodicSweep;

  constructor(
    private readonly engine: Engine,
    private readonly node: string,
    private readonly apps: PusherApps,
    private readonly webhooks: PusherWebhooks,
    private readonly options: LeftBehindOptions,
  ) {
    this.owner = `${node} ${randomUUID()}`;
    this.leaseMs = Math.max(100, Math.floor(options.presenceTtlMs / 2));
    const sweepIntervalMs = Math.max(100, Math.min(5_000, Math.floor(options.presenceTtlMs / 4)));
    this.sweeper = new PeriodicSweep(() => this.settleDue(), sweepIntervalMs, (error) => this.failed("claim what dead nodes left", error));
  }

  /** Marks this node live and starts claiming what dead nodes left. */
  async start(): Promise<void> {
    const entry: PresenceEntry = { connectionId: this.owner, transport: "pusher-node", node: this.node, connectedAt: new Date().toISOString() };
    await this.engine.addPresence(LIVE, entry).catch((error: unknown) => this.failed("mark this node live", error));
    this.sweeper.start();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }

  /**
   * Records that this node holds `channel` (with `user`, entries of that presence member), so
   * that a node that outlives it reports what it leaves; answers the ticket to pass to `release`.
   */
  hold(app: PusherApp, channel: string, name: string, user?: string): string {
    const ticket = `${this.owner} ${++this.sequence}`;
    const held: Held = { owner: this.owner, node: this.node, app: app.id, channel, name, ...(user === undefined ? {} : { user }) };
    this.engine.schedule(QUEUE, ticket, Date.now() + this.options.presenceTtlMs, JSON.stringify(held)).catch((error: unknown) => this.failed("record a held channel", error));
    return ticket;
  }

  /** This node reports the leave itself: no other node will. */
  async release(ticket: string | undefined): Promise<void> {
    if (ticket === undefined) return;
    await this.engine.completeDue(QUEUE, ticket).catch((error: unknown) => this.failed("complete a held channel", error));
  }

  /** Claims the items due and reports what dead nodes left (tests call it to settle at once). */
  sweep(): Promise<void> {
    return this.sweeper.run();
  }

  private async settleDue(): Promise<void> {
    for (let round = 0; round < CLAIM_ROUNDS; round += 1) {
      const items = await this.engine.claimDue(QUEUE, CLAIM_LIMIT, this.leaseMs);
      if (items.length === 0) return;
      const live = await this.engine.presence(LIVE);
      const owners = new Set(live.map((entry) => entry.connectionId));
      const names = new Set(live.map((entry) => entry.node));
      for (const { id, payload } of items) {
        const held = JSON.parse(payload) as Held;
        // Its node still runs: due again after the lease.
        if (owners.has(held.owner)) continue;
        try {
          const app = this.apps.withId(held.app);
          if (app) await this.settle(app, held, names.has(held.node));
          await this.engine.completeDue(QUEUE, id);
        } catch (error) {
          // Left claimed: after the lease this node or another claims it again.
          this.failed("report what a dead node left", error);
        }
      }
      if (items.length < CLAIM_LIMIT) return;
    }
  }

  /**
   * Decides as the dead node's own leave would have. `renamed`: a node of the same name runs again
   * (a restart under a fixed name), and the entries under that name may be its own: they stay.
   */
  private async settle(app: PusherApp, held: Held, renamed: boolean): Promise<void> {
    if (held.user === undefined) {
      const key = nodesOf(held.channel);
      const left = renamed ? await this.engine.presence(key) : await this.engine.leavePresence(key, held.node);
      if (!left.some(counted)) this.webhooks.report(app, { name: "channel_vacated", channel: held.name });
      return;
    }
    const user = held.user;
    let left = await this.engine.presence(held.channel);
    if (!renamed) {
      for (const entry of left.filter((entry) => entry.node === held.node && entry.user === user)) left = await this.engine.leavePresence(held.channel, entry.connectionId);
    }
    if (!left.some((entry) => counted(entry) && entry.user === user)) this.webhooks.report(app, { name: "member_removed", channel: held.name, user_id: user });
  }

  private failed(what: string, error: unknown): void {
    this.options.logger.warn({ err: (error as Error).message, what }, "pusher webhooks of dead nodes: the engine did not answer; tried again on the next sweep");
  }
}
