/**
 * Where any node sees the Pusher subscriptions of every node, for the HTTP API's counts and channel
 * list: each subscription is an entry (transport "pusher") in the engine's presence of its Herald
 * channel, and each channel a node holds Pusher subscribers of is an entry in its app's index. On
 * Redis a dead node's entries expire with the engine's presence TTL.
 *
 * Only subscriptions made through the Pusher front door are counted. Kept small and on its own so
 * that a cluster-wide channel list of the hub can take its place.
 *
 * Webhooks (for apps that have them): a subscription that leaves does not take its entry out at
 * once but turns it, in one atomic write, into a leaving entry (transport "pusher-leaving", not
 * counted anywhere) that is taken out after `leaveDelay`. The engine adds or removes an entry and
 * reads the channel's entries in one atomic step, so on any number of nodes exactly one
 * subscription finds no other (live or leaving) entry when it enters (channel_occupied) and exactly
 * one leaving entry finds none when it is taken out (channel_vacated); likewise per user on
 * presence channels (member_added, member_removed). A connection that comes back within the delay
 * (a page reload) finds its old entry still there, so nothing is reported either way.
 */

import type { Engine, PresenceEntry } from "../engine/engine.js";
import type { Session } from "../hub/session.js";
import type { PusherApp } from "./apps.js";
import { entryInfo, PUSHER_TRANSPORT, type Member } from "./members.js";
import type { PusherWebhooks } from "./webhooks.js";

/** The transport of an entry whose subscription left less than leaveDelay ago. */
const LEAVING_TRANSPORT = "pusher-leaving";

interface Leaving {
  readonly timer: NodeJS.Timeout;
  readonly user: string | undefined;
  readonly done: () => Promise<void>;
}

export class Occupancy {
  /** Pusher subscriptions this node holds, per Herald channel. */
  private readonly local = new Map<string, number>();
  /** Leaving entries this node will take out, by `channel connectionId`. */
  private readonly leaving = new Map<string, Leaving>();
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly node: string,
    private readonly webhooks: PusherWebhooks,
    private readonly leaveDelay: number,
  ) {}

  /**
   * Records a subscription to `channel` (Pusher name `name`). With a member (a presence channel)
   * it answers the channel's entries as they were right after this one was added
   * (engine.joinPresence); `admit` may refuse them (throw), which takes the entry out again.
   */
  async enter(app: PusherApp, channel: string, name: string, session: Session, member?: Member, admit?: (entries: PresenceEntry[]) => void): Promise<PresenceEntry[]> {
    const entry = this.entryOf(session, member);
    const watched = this.webhooks.wants(app) && !this.closed;
    try {
      await this.hold(app, channel);
      if (!member && !watched) {
        await this.engine.addPresence(channel, entry);
        return [];
      }
      // Entering again within leaveDelay on the same connection: the leaving entry is overwritten, and was never reported gone.
      const returning = this.stopLeaving(channel, session.id);
      const entries = await this.engine.joinPresence(channel, entry);
      try {
        admit?.(entries);
      } catch (refusal) {
        await this.engine.removePresence(channel, session.id);
        throw refusal;
      }
      if (watched) {
        const others = entries.filter((other) => counted(other) && other.connectionId !== session.id);
        if (others.length === 0 && !returning) this.webhooks.report(app, { name: "channel_occupied", channel: name });
        if (member && !others.some((other) => other.user === member.user) && returning?.user !== member.user) this.webhooks.report(app, { name: "member_added", channel: name, user_id: member.user });
      }
      return entries;
    } catch (error) {
      await this.release(app, channel).catch(() => undefined);
      throw error;
    }
  }

  /** Takes a subscription out; answers the entries left when it was a member's (engine.leavePresence). */
  async leave(app: PusherApp, channel: string, name: string, session: Session, member?: Member): Promise<PresenceEntry[]> {
    try {
      if (this.webhooks.wants(app) && !this.closed) return await this.startLeaving(app, channel, name, session, member);
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

  /** Takes the leaving entries out now (reporting what they leave), and makes leaves immediate from here on. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.leaving.values()].map((leaving) => (clearTimeout(leaving.timer), leaving.done())));
  }

  private async startLeaving(app: PusherApp, channel: string, name: string, session: Session, member: Member | undefined): Promise<PresenceEntry[]> {
    const key = `${channel} ${session.id}`;
    const entries = await this.engine.joinPresence(channel, { ...this.entryOf(session, member), transport: LEAVING_TRANSPORT });
    const done = async (): Promise<void> => {
      if (this.leaving.get(key)?.done !== done) return;
      this.leaving.delete(key);
      const left = (await this.engine.leavePresence(channel, session.id)).filter(counted);
      if (member && !left.some((entry) => entry.user === member.user)) this.webhooks.report(app, { name: "member_removed", channel: name, user_id: member.user });
      if (left.length === 0) this.webhooks.report(app, { name: "channel_vacated", channel: name });
    };
    const timer = setTimeout(() => void done().catch(() => undefined), this.leaveDelay);
    this.leaving.set(key, { timer, user: member?.user, done });
    return entries;
  }

  private stopLeaving(channel: string, connectionId: string): Leaving | undefined {
    const key = `${channel} ${connectionId}`;
    const leaving = this.leaving.get(key);
    if (!leaving) return undefined;
    clearTimeout(leaving.timer);
    this.leaving.delete(key);
    return leaving;
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

/** Entries that keep a channel occupied for webhooks: live subscriptions and ones leaving. */
function counted(entry: PresenceEntry): boolean {
  return entry.transport === PUSHER_TRANSPORT || entry.transport === LEAVING_TRANSPORT;
}

/** The engine key of an app's channel index: `#` keeps it apart from every valid channel name. */
function indexOf(app: PusherApp): string {
  return `#pusher-channels:${app.id}`;
}
