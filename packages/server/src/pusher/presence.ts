/**
 * Pusher presence channels on the hub: a connection joins with the member its authorizer named,
 * gets the member list, and the others hear `member_added` / `member_removed` once per user, not
 * once per connection, on every node.
 *
 * Once per user across nodes: the engine adds (or removes) a connection's entry and reads the
 * channel's entries in one atomic step, so of two connections of one user joining at once on any
 * nodes exactly one sees no other connection of its user, and only that one announces the user;
 * the same holds for the last one leaving. The announcement is an event of the channel's stream,
 * sent with the connection as its sender, so it reaches every node's subscribers (Herald clients
 * too) and not the connection itself.
 */

import type { Hub } from "../hub/hub.js";
import type { Session } from "../hub/session.js";
import { HeraldError } from "../shared/herald-error.js";
import type { PusherApp } from "./apps.js";
import { MEMBER_ADDED, MEMBER_REMOVED, membersOf, PUSHER_TRANSPORT, type Member } from "./members.js";
import type { Occupancy } from "./occupancy.js";

export class PusherPresence {
  constructor(
    private readonly hub: Hub,
    private readonly occupancy: Occupancy,
  ) {}

  /** Joins `member` to a presence channel (Pusher name `name`); answers the channel's members, this one included. */
  async join(app: PusherApp, channel: string, name: string, session: Session, member: Member): Promise<Member[]> {
    let alreadyThere = false;
    const entries = await this.occupancy.enter(app, channel, name, session, member, (entries) => {
      alreadyThere = entries.some((entry) => entry.transport === PUSHER_TRANSPORT && entry.user === member.user && entry.connectionId !== session.id);
      if (!alreadyThere && membersOf(entries).length > app.maxPresenceMembers) {
        throw new HeraldError("presence_full", `this presence channel holds its maximum of ${app.maxPresenceMembers} members`);
      }
    });
    if (!alreadyThere) await this.hub.publish(channel, MEMBER_ADDED, { user_id: member.userId, user_info: member.info }, undefined, { connectionId: session.id });
    return membersOf(entries);
  }

  /** Takes a connection out; announces the user gone when it was the user's last connection. */
  async leave(app: PusherApp, channel: string, name: string, session: Session, member: Member): Promise<void> {
    const left = await this.occupancy.leave(app, channel, name, session, member);
    if (left.some((entry) => entry.transport === PUSHER_TRANSPORT && entry.user === member.user)) return;
    await this.hub.publish(channel, MEMBER_REMOVED, { user_id: member.userId }, undefined, { connectionId: session.id });
  }

  /** A presence channel's members on every node. */
  async members(channel: string): Promise<Member[]> {
    return membersOf(await this.occupancy.subscriptions(channel));
  }
}
