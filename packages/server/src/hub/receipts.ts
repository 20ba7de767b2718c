/**
 * Receipts: per channel and reader, the highest offset whose handlers returned in the reader's
 * client, for namespaces with `receipts: true`. A reader is a user (all their connections share
 * one receipt, the highest any of them reached) or, for a connection without a user, that
 * connection alone.
 *
 * An acknowledgement counts only when it is believable from this connection: the channel is one
 * it is subscribed to, and the offset is one it was sent (at or below the subscription's last
 * offset, in its epoch), so every counted offset exists. Anything else is ignored and counted
 * (`herald_acks_ignored_total`): a client cannot mark events it never got as handled, nor touch
 * channels it cannot read. What the engine keeps and for how long is its contract's point 9.
 */

import type { Engine, Receipt } from "../engine/engine.js";
import type { Namespaces } from "./namespaces.js";
import type { Session } from "./session.js";
import type { HubStats } from "./stats.js";
import { HeraldError } from "../shared/herald-error.js";

/** One reader's receipt as GET /api/receipts answers it. */
export interface ReceiptView {
  /** The user, for a connection that has one. */
  readonly user?: string;
  /** The connection, for one without a user. */
  readonly connectionId?: string;
  readonly offset: number;
  /** ISO-8601, when that offset was acknowledged. */
  readonly at: string;
}

export interface ChannelReceipts {
  readonly channel: string;
  readonly epoch: string;
  readonly receipts: ReceiptView[];
}

const USER = "u:";
const CONNECTION = "c:";

export class Receipts {
  constructor(
    private readonly engine: Engine,
    private readonly namespaces: Namespaces,
    private readonly stats: HubStats,
  ) {}

  /** Whether `channel`'s namespace keeps receipts (its subscribers are told, and acknowledge). */
  kept(channel: string): boolean {
    return this.namespaces.of(channel).receipts;
  }

  /** An acknowledgement from `session`: stored when believable, else ignored and counted. Resolves to whether it counted. */
  async acknowledge(session: Session, channel: string, offset: number): Promise<boolean> {
    const options = this.namespaces.of(channel);
    const subscription = session.subscriptions.get(channel);
    if (!options.receipts || !subscription?.active || subscription.epoch === "" || !Number.isSafeInteger(offset) || offset < 1 || offset > subscription.lastOffset) {
      this.stats.acksIgnored += 1;
      return false;
    }
    await this.engine.acknowledge(channel, readerOf(session), subscription.epoch, offset, options);
    this.stats.acksCounted += 1;
    return true;
  }

  /**
   * An acknowledgement by `user` without a connection (a polling client, which holds none): stored
   * when the position exists in the channel's stream now, else ignored and counted. The caller
   * has checked that the user may read the channel.
   */
  async acknowledgeAsUser(user: string, channel: string, epoch: string, offset: number): Promise<boolean> {
    const options = this.namespaces.of(channel);
    const position = options.receipts ? await this.engine.position(channel, options) : undefined;
    if (!position || position.epoch !== epoch || !Number.isSafeInteger(offset) || offset < 1 || offset > position.offset) {
      this.stats.acksIgnored += 1;
      return false;
    }
    await this.engine.acknowledge(channel, USER + user, epoch, offset, options);
    this.stats.acksCounted += 1;
    return true;
  }

  /** The highest offset `user` acknowledged on `channel` in `epoch`, if any. */
  async highest(channel: string, epoch: string, user: string): Promise<number | undefined> {
    const [receipt] = await this.engine.receipts(channel, epoch, USER + user);
    return receipt?.offset;
  }

  /** The receipts of `channel` in its current epoch, every reader's or `user`'s. */
  async read(channel: string, user?: string): Promise<ChannelReceipts> {
    const options = this.namespaces.of(channel);
    if (!options.receipts) throw new HeraldError("receipts_off", `namespace "${options.namespace}" keeps no receipts; set namespaces.${options.namespace || '""'}.receipts: true`);
    const { epoch } = await this.engine.position(channel, options);
    const receipts = await this.engine.receipts(channel, epoch, user === undefined ? undefined : USER + user);
    return { channel, epoch, receipts: receipts.map(view).sort((a, b) => b.offset - a.offset) };
  }
}

function readerOf(session: Session): string {
  return session.user === undefined ? CONNECTION + session.id : USER + session.user;
}

function view(receipt: Receipt): ReceiptView {
  const at = new Date(receipt.time).toISOString();
  if (receipt.reader.startsWith(USER)) return { user: receipt.reader.slice(USER.length), offset: receipt.offset, at };
  return { connectionId: receipt.reader.slice(CONNECTION.length), offset: receipt.offset, at };
}
