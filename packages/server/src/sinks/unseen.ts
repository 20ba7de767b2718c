/**
 * "If unseen, send it another way": an email or webhook rule with `unseen: 30s` does not deliver
 * at once. The event's deadline is stored in the engine (a due queue, the engine contract's point
 * 10) before the publish is answered; once it is due, one node claims it and delivers only if no
 * connection of the event's user acknowledged that event (receipts, hub/receipts.ts) by then.
 *
 * Exactly once across nodes and workers: the claim hands each deadline to one node, with a lease
 * (`sinks.queue.lockDuration`); the claimer queues the delivery under the same stable id the rule
 * uses for an immediate delivery, then completes the deadline. A node that dies holding a deadline
 * loses nothing: after the lease another node claims it again, and a durable delivery store (redis,
 * postgres) refuses the id it already holds, so the email or POST still goes out once.
 *
 * The event's user is the rule's `user` template, by default the part of the channel after its
 * namespace (`bets:alice` → `alice`); its receipts are those of the channel's namespace, which must
 * keep receipts (`receipts: true`), else every deadline delivers.
 */

import type { Logger } from "pino";
import type { Engine, StreamEvent } from "../engine/engine.js";
import type { Receipts } from "../hub/receipts.js";
import { render } from "../shared/template.js";
import { deliveryId } from "./delivery-id.js";
import { eventContext, type EventContext } from "./event-context.js";
import { PeriodicSweep } from "../shared/periodic-sweep.js";

/** A deadline that passed unseen: what the sink needs to deliver it. */
export interface UnseenItem {
  readonly sink: string;
  /** The rule (email) or endpoint (webhook) index. */
  readonly rule: number;
  readonly event: EventContext;
}

interface Stored extends UnseenItem {
  readonly user: string | undefined;
}

export type DeliverUnseen = (item: UnseenItem) => Promise<void>;

export interface UnseenStatus {
  /** Counted by this node: deadlines it claimed that were seen in time (nothing sent), and those it delivered. */
  readonly seen: number;
  readonly delivered: number;
}

const QUEUE = "unseen";
const CLAIM_LIMIT = 100;

export class UnseenDeadlines {
  private readonly sinks = new Map<string, DeliverUnseen>();
  private readonly sweeper: PeriodicSweep;
  private seen = 0;
  private delivered = 0;

  constructor(
    private readonly engine: Engine,
    private readonly receipts: Receipts,
    private readonly logger: Logger,
    private readonly options: { readonly leaseMs: number; readonly sweepIntervalMs: number },
  ) {
    this.sweeper = new PeriodicSweep(() => this.settleDue(), options.sweepIntervalMs, (error) =>
      logger.warn({ err: (error as Error).message }, "unseen deadlines not claimed; tried again shortly"),
    );
  }

  /** A sink's way to deliver the deadlines of its rules that passed unseen. */
  register(sink: string, deliver: DeliverUnseen): void {
    this.sinks.set(sink, deliver);
  }

  /** Stores the deadline of `event` for a rule: `afterMs` after the event, for `userTemplate`'s user (default: the channel's suffix). */
  schedule(sink: string, rule: number, afterMs: number, userTemplate: string | undefined, event: StreamEvent): Promise<void> {
    const context = eventContext(event);
    const item: Stored = { sink, rule, user: userOf(userTemplate, context), event: context };
    return this.engine.schedule(QUEUE, deliveryId("unseen", sink, rule, event.channel, event.epoch, event.offset), event.time + afterMs, JSON.stringify(item));
  }

  start(): void {
    this.sweeper.start();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }

  status(): UnseenStatus {
    return { seen: this.seen, delivered: this.delivered };
  }

  /** Claims the deadlines due and settles each (tests call it to settle at once). */
  sweep(): Promise<void> {
    return this.sweeper.run();
  }

  private async settleDue(): Promise<void> {
    for (const { id, payload } of await this.engine.claimDue(QUEUE, CLAIM_LIMIT, this.options.leaseMs)) {
      const item = JSON.parse(payload) as Stored;
      const deliver = this.sinks.get(item.sink);
      try {
        if (await this.wasSeen(item)) this.seen += 1;
        else if (deliver) {
          await deliver(item);
          this.delivered += 1;
        }
        await this.engine.completeDue(QUEUE, id);
      } catch (error) {
        // Left claimed: after the lease this node or another claims it again.
        this.logger.warn({ sink: item.sink, channel: item.event.channel, offset: item.event.offset, err: (error as Error).message }, "unseen deadline not settled; tried again after its lease");
      }
    }
  }

  private async wasSeen(item: Stored): Promise<boolean> {
    if (item.user === undefined) return false;
    const highest = await this.receipts.highest(item.event.channel, item.event.epoch, item.user);
    return highest !== undefined && highest >= item.event.offset;
  }
}

function userOf(template: string | undefined, context: EventContext): string | undefined {
  if (template === undefined) {
    const colon = context.channel.indexOf(":");
    return colon >= 0 && colon < context.channel.length - 1 ? context.channel.slice(colon + 1) : undefined;
  }
  const rendered = render(template, context);
  return rendered.missing.length > 0 || rendered.text === "" ? undefined : rendered.text;
}
