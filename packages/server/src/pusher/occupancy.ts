/**
 * Where any node sees the Pusher subscriptions of every node, for the HTTP API's counts and channel
 * list: each subscription is an entry (transport "pusher") in the engine's presence of its Herald
 * channel, and each channel a node holds Pusher subscribers of is an entry in its app's index. On
 * Redis a dead node's entries expire with the engine's presence TTL.
 *
 * Only subscriptions made through the Pusher front door are counted. Kept small and on its own so
 * that a cluster-wide channel list of the hub can take its place.
 *
 * Webhooks (for apps that have them) are decided where the engine decides atomically, so each is
 * reported once however many nodes there are: the engine adds (or removes) an entry and reads the
 * key's entries in one step. channel_occupied / channel_vacated: each node holding a channel's
 * subscribers has one entry under the channel's node key; the node whose entry finds no other
 * reports channel_occupied. member_added / member_removed: each presence subscription's own entry;
 * the one that finds no other entry of its user reports member_added. Leaving is not at once: the
 * entry turns (in one write) into a leaving one (transport "pusher-leaving", counted by no figure)
 * that is taken out after `leaveDelay`, and the one whose removal leaves none reports
 * channel_vacated (member_removed). A subscriber that comes back within the delay (a page reload)
 * finds the leaving entry still there, so nothing is reported either way. Public and private
 * channels pay one node-key write when a node's first subscriber comes and its last one goes, not
 * one per subscription.
 *
 * A node that dies takes nothing out: what it held (each channel, and each member per channel) is
 * recorded with `leftBehind`, whose ticket the node's own last leave gives back, and a node still
 * up reports what a dead one leaves (left-behind.ts).
 */

import type { Engine, PresenceEntry } from "../engine/engine.js";
import type { Session } from "../hub/session.js";
import type { PusherApp } from "./apps.js";
import type { LeftBehind } from "./left-behind.js";
import { entryInfo, PUSHER_TRANSPORT, type Member } from "./members.js";
import { counted, indexOf, LEAVING_TRANSPORT, nodesOf } from "./occupancy-keys.js";
import type { PusherWebhooks } from "./webhooks.js";

interface Leaving {
  readonly timer: NodeJS.Timeout;
  /** The member whose entry is leaving, on a presence channel. */
  readonly user: string | undefined;
  readonly done: () => Promise<void>;
}

export class Occupancy {
  /** Pusher subscriptions this node holds, per Herald channel. */
  private readonly local = new Map<string, number>();
  /** Leaving entries this node will take out: `connectionId channel` for members, `channel` for this node's own. */
  private readonly leaving = new Map<string, Leaving>();
  /** leftBehind's tickets of the channels this node holds, while it holds them. */
  private readonly channelTickets = new Map<string, string | undefined>();
  /** Per `channel user`: this node's entries of the member (leaving ones included) and their ticket. */
  private readonly memberTickets = new Map<string, { entries: number; readonly ticket: string | undefined }>();
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly node: string,
    private readonly webhooks: PusherWebhooks,
    private readonly leaveDelay: number,
    /** Where what this node holds is recorded for the nodes that may outlive it; without it nothing is. */
    private readonly leftBehind?: LeftBehind,
  ) {}

  /**
   * Records a subscription to `channel` (Pusher name `name`). With a member (a presence channel)
   * it answers the channel's entries as they were right after this one was added
   * (engine.joinPresence); `admit` may refuse them (throw), which takes the entry out again.
   */
  async enter(app: PusherApp, channel: string, name: string, session: Session, member?: Member, admit?: (entries: PresenceEntry[]) => void): Promise<PresenceEntry[]> {
    const entry = this.entryOf(session, member);
    const watched = this.watches(app);
    try {
      await this.hold(app, channel, name, watched);
      if (!member) {
        await this.engine.addPresence(channel, entry);
        return [];
      }
      // Back within leaveDelay on the same connection: its leaving entry is overwritten, and was never reported gone.
      const returning = watched ? this.stopLeaving(`${session.id} ${channel}`) : undefined;
      const entries = await this.engine.joinPresence(channel, entry);
      try {
        admit?.(entries);
      } catch (refusal) {
        await this.engine.removePresence(channel, session.id);
        if (returning?.user !== undefined) await this.memberLeft(channel, returning.user);
        throw refusal;
      }
      if (watched && returning?.user !== member.user) {
        this.memberEntered(app, channel, name, member.user);
        if (returning?.user !== undefined) await this.memberLeft(channel, returning.user);
      }
      const others = entries.filter((other) => counted(other) && other.connectionId !== session.id);
      if (watched && !others.some((other) => other.user === member.user) && returning?.user !== member.user) {
        this.webhooks.report(app, { name: "member_added", channel: name, user_id: member.user });
      }
      return entries;
    } catch (error) {
      await this.release(app, channel, name, watched).catch(() => undefined);
      throw error;
    }
  }

  /** Takes a subscription out; answers the entries left when it was a member's (engine.leavePresence). */
  async leave(app: PusherApp, channel: string, name: string, session: Session, member?: Member): Promise<PresenceEntry[]> {
    const watched = this.watches(app);
    try {
      if (member && watched) return await this.leaveMember(app, channel, name, session, member);
      if (member) return await this.engine.leavePresence(channel, session.id);
      await this.engine.removePresence(channel, session.id);
      return [];
    } finally {
      await this.release(app, channel, name, watched).catch(() => undefined);
    }
  }

  /** The Pusher subscriptions of a channel on every node. */
  async subscriptions(channel: string): Promise<PresenceEntry[]> {
    return (await this.engine.presence(channel)).filter((entry) => entry.transport === PUSHER_TRANSPORT);
  }

  /** The Herald channels of an app that some node holds Pusher subscribers of. */
  async channels(app: PusherApp): Promise<string[]> {
    const entries = await this.engine.presence(indexOf(app));
    return [...new Set(entries.flatMap((entry) => (entry.user === undefined ? [] : [entry.user])))];
  }

  /** Takes the leaving entries out now (reporting what they leave), and makes leaves immediate from here on (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.leaving.values()].map((leaving) => (clearTimeout(leaving.timer), leaving.done().catch(() => undefined))));
  }

  private watches(app: PusherApp): boolean {
    return this.webhooks.wants(app);
  }

  /** A member's entry turns into a leaving one; member_removed when the last entry of its user is taken out. */
  private async leaveMember(app: PusherApp, channel: string, name: string, session: Session, member: Member): Promise<PresenceEntry[]> {
    const entries = await this.engine.joinPresence(channel, { ...this.entryOf(session, member), transport: LEAVING_TRANSPORT });
    this.startLeaving(`${session.id} ${channel}`, member.user, async () => {
      await this.memberLeft(channel, member.user);
      const left = (await this.engine.leavePresence(channel, session.id)).filter(counted);
      if (!left.some((entry) => entry.user === member.user)) this.webhooks.report(app, { name: "member_removed", channel: name, user_id: member.user });
    });
    return entries;
  }

  /** Takes an entry out after leaveDelay (at once once closing), unless stopLeaving comes first. */
  private startLeaving(key: string, user: string | undefined, takeOut: () => Promise<void>): void {
    if (this.closed) return void takeOut().catch(() => undefined);
    const done = async (): Promise<void> => {
      if (this.leaving.get(key)?.done !== done) return;
      this.leaving.delete(key);
      await takeOut();
    };
    const timer = setTimeout(() => void done().catch(() => undefined), this.leaveDelay);
    this.leaving.set(key, { timer, user, done });
  }

  private stopLeaving(key: string): Leaving | undefined {
    const leaving = this.leaving.get(key);
    if (!leaving) return undefined;
    clearTimeout(leaving.timer);
    this.leaving.delete(key);
    return leaving;
  }

  /** A member's entry was added on this node: its first one here is recorded with leftBehind. */
  private memberEntered(app: PusherApp, channel: string, name: string, user: string): void {
    const key = `${channel} ${user}`;
    const held = this.memberTickets.get(key);
    if (held) held.entries += 1;
    else this.memberTickets.set(key, { entries: 1, ticket: this.leftBehind?.hold(app, channel, name, user) });
  }

  /** A member's entry here is about to be taken out: the last one gives its ticket back first (see left-behind.ts). */
  private async memberLeft(channel: string, user: string): Promise<void> {
    const key = `${channel} ${user}`;
    const held = this.memberTickets.get(key);
    if (!held || --held.entries > 0) return;
    this.memberTickets.delete(key);
    await this.leftBehind?.release(held.ticket);
  }

  private entryOf(session: Session, member: Member | undefined): PresenceEntry {
    const entry = { connectionId: session.id, transport: PUSHER_TRANSPORT, node: this.node, connectedAt: session.connectedAt };
    return member ? { ...entry, user: member.user, info: entryInfo(member) } : entry;
  }

  /** This node's first subscriber of a channel: the app's index, and (watched) the channel's node key. */
  private async hold(app: PusherApp, channel: string, name: string, watched: boolean): Promise<void> {
    const count = (this.local.get(channel) ?? 0) + 1;
    this.local.set(channel, count);
    if (count !== 1) return;
    const now = new Date().toISOString();
    await this.engine.addPresence(indexOf(app), { connectionId: `${this.node} ${channel}`, user: channel, transport: PUSHER_TRANSPORT, node: this.node, connectedAt: now });
    if (!watched) return;
    const nodeEntry = { connectionId: this.node, transport: PUSHER_TRANSPORT, node: this.node, connectedAt: now };
    if (this.stopLeaving(channel)) return void (await this.engine.addPresence(nodesOf(channel), nodeEntry));
    // Recorded before the entry is added: a failed add is released like any other hold.
    this.channelTickets.set(channel, this.leftBehind?.hold(app, channel, name));
    const nodes = await this.engine.joinPresence(nodesOf(channel), nodeEntry);
    if (!nodes.some((entry) => counted(entry) && entry.connectionId !== this.node)) this.webhooks.report(app, { name: "channel_occupied", channel: name });
  }

  /** This node's last subscriber of a channel left: out of the index; (watched) its node entry leaves. */
  private async release(app: PusherApp, channel: string, name: string, watched: boolean): Promise<void> {
    const count = (this.local.get(channel) ?? 1) - 1;
    if (count > 0) return void this.local.set(channel, count);
    this.local.delete(channel);
    await this.engine.removePresence(indexOf(app), `${this.node} ${channel}`);
    if (!watched) return;
    await this.engine.addPresence(nodesOf(channel), { connectionId: this.node, transport: LEAVING_TRANSPORT, node: this.node, connectedAt: new Date().toISOString() });
    const ticket = this.channelTickets.get(channel);
    this.startLeaving(channel, undefined, async () => {
      if (this.channelTickets.get(channel) === ticket) this.channelTickets.delete(channel);
      await this.leftBehind?.release(ticket);
      const left = (await this.engine.leavePresence(nodesOf(channel), this.node)).filter(counted);
      if (left.length === 0) this.webhooks.report(app, { name: "channel_vacated", channel: name });
    });
  }
}

