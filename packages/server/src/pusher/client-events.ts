/**
 * Client events: a `client-*` event a connection sends on a private or presence channel it is
 * subscribed to, where its app enables them. It is published to the channel's stream with the
 * connection as its sender, so it reaches the channel's subscribers on every node (Herald clients
 * included, who keep it in history) and never the sender. On a presence channel it names the
 * sender's user, as Pusher does. Each connection may send `clientEventsPerSecond` of them; more
 * are dropped with a 4301 error and the connection stays. Where the app wants the client_event
 * webhook, the sender's node reports it.
 */

import type { Hub } from "../hub/hub.js";
import { TokenBucket } from "../limits/token-bucket.js";
import { HeraldError } from "../shared/herald-error.js";
import { heraldChannel, pusherChannelProblem } from "./channel-names.js";
import { heraldEventType } from "./event-mapping.js";
import type { ClientMessage } from "./frames.js";
import type { PusherSession } from "./pusher-session.js";
import type { PusherWebhooks } from "./webhooks.js";

const MAX_EVENT_NAME = 200;

export class ClientEvents {
  private readonly rates = new WeakMap<PusherSession, TokenBucket>();

  constructor(
    private readonly hub: Hub,
    private readonly webhooks: PusherWebhooks,
  ) {}

  /** Publishes a client event; throws a HeraldError when it is refused. */
  async publish(session: PusherSession, message: ClientMessage): Promise<void> {
    const app = session.app;
    if (!app.clientEvents) throw new HeraldError("publish_forbidden", `client events are not enabled for this app; dropped ${message.event}`);
    if (message.event.length > MAX_EVENT_NAME) throw new HeraldError("invalid_event_type", `event names are at most ${MAX_EVENT_NAME} characters`);
    if (pusherChannelProblem(message.channel) !== undefined) throw new HeraldError("invalid_channel", "a client event needs the channel it is for");
    const name = message.channel as string;
    const channel = heraldChannel(app, name);
    const state = session.channels.get(channel);
    if (!state?.ready) throw new HeraldError("not_subscribed", `subscribe to ${name} before sending client events on it`);
    if (state.kind === "public" || state.kind === "user" || name.startsWith("private-encrypted-")) throw new HeraldError("publish_forbidden", "client events are only for private and presence channels");
    let bucket = this.rates.get(session);
    if (!bucket) this.rates.set(session, (bucket = new TokenBucket(app.clientEventsPerSecond, app.clientEventsPerSecond)));
    if (!bucket.take()) throw new HeraldError("rate_limited", `Client event rejected due to rate limit: at most ${app.clientEventsPerSecond} per second`);
    const data = message.data ?? null;
    const bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > app.maxEventBytes) throw new HeraldError("payload_too_large", `client event data is ${bytes} bytes; the limit is ${app.maxEventBytes}`);
    const type = heraldEventType(message.event);
    if (type === undefined) throw new HeraldError("invalid_event_type", `the event name ${message.event.slice(0, 64)}... does not fit Herald's 64-character event types`);
    try {
      await this.hub.publish(channel, type, data, undefined, state.member ? { connectionId: session.id, user: state.member.user } : { connectionId: session.id });
    } catch (error) {
      const refusal = HeraldError.from(error);
      throw new HeraldError(refusal.code, `client event not sent: ${refusal.message}`, { cause: error });
    }
    // Reported by the sender's node, once; Pusher gives the data as the string it was sent as.
    if (this.webhooks.wants(app, "client_event")) {
      const text = typeof data === "string" ? data : JSON.stringify(data);
      this.webhooks.report(app, { name: "client_event", channel: name, event: message.event, data: text, socket_id: session.id, ...(state.member ? { user_id: state.member.user } : {}) });
    }
  }
}
