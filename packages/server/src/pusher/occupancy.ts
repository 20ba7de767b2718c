/**
 * Where any node sees the Pusher subscriptions of every node, for the HTTP API's counts and channel
 * list: each subscription is an entry (transport "pusher") in the engine's presence of its Herald
 * channel, and each channel a node holds Pusher subscribers of is an entry in its app's index. On
 * Redis a dead node's entries expire with the engine's presence TTL.
 *
 * Only subscriptions made through the Pusher front door are counted. Kept small and on its own so
 * that a cluster-wide channel list of the hub can take its place.
 */

import type { Engine, PresenceEntry } from "../engine/engine.js";
import type { Session } from "../hub/session.js";
import type { PusherApp } from "./apps.js";
import { entryInfo, PUSHER_TRANSPORT, type Member } from "./members.js";

export class Occupancy {
  /** Pusher subscriptions this node holds, per Herald channel. */
  private readonly local = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly node: string,
  ) {}

  /**
   * Records a subscription. With a member (a presence channel) it answers the channel's entries
   * as they were right after this one was added (engine.joinPresence).
   */
  async enter(app: PusherApp, channel: string, session: Session, member?: Member): Promise<PresenceEntry[]> {
    const entry = this.entryOf(session, member);
    try {
      await this.hold(app, channel);
      if (member) return await this.engine.joinPresence(channel, entry);
      await this.engine.addPresence(channel, entry);
      return [];
    } catch (error) {
      await this.release(app, channel).catch(() => undefined);
      throw error;
    }
  }

  /** Takes a subscription out; answers the entries left when it was a member's (engine.leavePresence). */
  async leave(app: PusherApp, channel: string, session: Session, member?: Member): Promise<PresenceEntry[]> {
    try {
      if (member) return await this.engine.leavePresence(channel, session.id);
      await this.engine.removePresence(channel, session.id);
      return [];
    } finally {
      await this.release(app, channel).catch(() => undefined);
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

  private entryOf(session: Session, member: Member | undefined): PresenceEntry {
    const entry = { connectionId: session.id, transport: PUSHER_TRANSPORT, node: this.node, connectedAt: session.connectedAt };
    return member ? { ...entry, user: member.user, info: entryInfo(member) } : entry;
  }

  private async hold(app: PusherApp, channel: string): Promise<void> {
    const count = (this.local.get(channel) ?? 0) + 1;
    this.local.set(channel, count);
    if (count === 1) await this.engine.addPresence(indexOf(app), { connectionId: `${this.node} ${channel}`, user: channel, transport: PUSHER_TRANSPORT, node: this.node, connectedAt: new Date().toISOString() });
  }

  private async release(app: PusherApp, channel: string): Promise<void> {
    const count = (this.local.get(channel) ?? 1) - 1;
    if (count > 0) return void this.local.set(channel, count);
    this.local.delete(channel);
    await this.engine.removePresence(indexOf(app), `${this.node} ${channel}`);
  }
}

/** The engine key of an app's channel index: `#` keeps it apart from every valid channel name. */
function indexOf(app: PusherApp): string {
  return `#pusher-channels:${app.id}`;
}
