/**
 * pusher:subscribe and pusher:unsubscribe on the hub. A subscription is checked as Pusher checks
 * it (the name; for private- and presence- channels the app's signature over the socket id, the
 * channel and channel_data; for `#server-to-user-<id>` a signin as that user), then made on the
 * hub under the channel's Herald name (granted: the signature was the authorization), recorded in the engine (occupancy, presence), and answered
 * with pusher_internal:subscription_succeeded. A cache channel's subscriber then gets the channel's
 * last event from history, or pusher:cache_miss.
 *
 * Whatever a subscription recorded is taken out once, by unsubscribe or when the connection
 * closes, also when the close comes while the subscription is still being made.
 */

import type { Hub } from "../hub/hub.js";
import { HeraldError } from "../shared/herald-error.js";
import { channelKind, heraldChannel, isCacheChannel, pusherChannelProblem, SERVER_TO_USER } from "./channel-names.js";
import { subscriptionSucceeded } from "./frames.js";
import { MEMBER_ADDED, MEMBER_REMOVED, presenceData, readMember } from "./members.js";
import type { PusherApp } from "./apps.js";
import type { PusherWebhooks } from "./webhooks.js";
import { PreparedEvent } from "../hub/prepared-event.js";
import type { Occupancy } from "./occupancy.js";
import type { PusherPresence } from "./presence.js";
import type { PusherChannel, PusherSession } from "./pusher-session.js";
import { channelAuthProblem } from "./signatures.js";

/** Events of a cache channel's history looked through for its last event (presence churn aside). */
const CACHE_LOOKBACK = 50;

export class PusherSubscriptions {
  constructor(
    private readonly hub: Hub,
    private readonly occupancy: Occupancy,
    private readonly presence: PusherPresence,
    private readonly webhooks: PusherWebhooks,
  ) {}

  /** Subscribes; throws a HeraldError when refused, answered as pusher:subscription_error. */
  async subscribe(session: PusherSession, data: unknown): Promise<void> {
    const { channel: name, auth, channel_data: channelData } = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    const problem = pusherChannelProblem(name);
    if (problem) throw new HeraldError("invalid_channel", problem);
    const pusherName = name as string;
    const kind = channelKind(pusherName);
    const app = session.app;
    if (kind === "user") {
      if (session.signedIn === undefined || pusherName !== `${SERVER_TO_USER}${session.signedIn}`) throw new HeraldError("forbidden", `${pusherName} is the channel of a signed-in user; sign in (pusher:signin) as that user first`);
    } else if (kind !== "public") {
      const signed = typeof channelData === "string" ? channelData : undefined;
      const authProblem = channelAuthProblem(app, session.id, pusherName, auth, signed);
      if (authProblem) throw new HeraldError("unauthorized", authProblem);
    }
    const member = kind === "presence" ? readMember(channelData, app.maxEventBytes) : undefined;
    const channel = heraldChannel(app, pusherName);
    // A second subscribe to a channel this connection holds changes nothing and is not answered again.
    if (session.channels.has(channel)) return;
    const state: PusherChannel = { name: pusherName, kind, member, ready: false, held: [], entered: false, left: false };
    session.channels.set(channel, state);
    try {
      await this.hub.subscribe(session, channel, { granted: true });
      if (session.closed) return;
      // Read after the hub subscription, so an event published meanwhile is held, not missed; markReady drops what both hold.
      const cache = isCacheChannel(pusherName) ? { last: await this.lastCached(app, channel, pusherName) } : undefined;
      if (session.closed) return;
      state.entered = true;
      const answer = member ? presenceData(await this.presence.join(app, channel, pusherName, session, member)) : (await this.occupancy.enter(app, channel, pusherName, session), {});
      // The connection closed while this was recorded: leaveAll ran before it was; take it out here.
      if (session.closed) return await this.leave(session, channel, state);
      session.markReady(channel, subscriptionSucceeded(pusherName, answer), cache);
    } catch (error) {
      if (session.channels.get(channel) === state) session.channels.delete(channel);
      state.left = true;
      await this.hub.unsubscribe(session, channel).catch(() => undefined);
      throw error;
    }
  }

  /** A cache channel's last event still in history (member events aside); a miss is reported to the webhooks that want it. */
  private async lastCached(app: PusherApp, channel: string, name: string): Promise<PreparedEvent | undefined> {
    const { events } = await this.hub.history(channel, { limit: CACHE_LOOKBACK });
    const last = events.filter((event) => event.type !== MEMBER_ADDED && event.type !== MEMBER_REMOVED).at(-1);
    if (!last && this.webhooks.wants(app, "cache_miss")) this.webhooks.report(app, { name: "cache_miss", channel: name });
    return last && new PreparedEvent(last);
  }

  async unsubscribe(session: PusherSession, data: unknown): Promise<void> {
    const { channel: name } = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    if (pusherChannelProblem(name) !== undefined) return;
    const channel = heraldChannel(session.app, name as string);
    const state = session.channels.get(channel);
    // Unsubscribing from a channel not subscribed to is not an error in Pusher.
    if (!state) return;
    session.channels.delete(channel);
    await this.hub.unsubscribe(session, channel).catch(() => undefined);
    await this.leave(session, channel, state);
  }

  /** Takes out everything a closed connection recorded. */
  async leaveAll(session: PusherSession): Promise<void> {
    await Promise.all([...session.channels].map(([channel, state]) => this.leave(session, channel, state)));
  }

  private async leave(session: PusherSession, channel: string, state: PusherChannel): Promise<void> {
    if (!state.entered || state.left) return;
    state.left = true;
    const app = session.app;
    if (state.member) await this.presence.leave(app, channel, state.name, session, state.member).catch(() => undefined);
    else await this.occupancy.leave(app, channel, state.name, session).catch(() => undefined);
  }
}
