/**
 * A Pusher client's connection: a WebSocket session of the hub whose events are written as Pusher
 * frames. Its hub subscriptions are the Herald channels of the Pusher channels it subscribed to;
 * each keeps the Pusher name, kind and (for presence) the member this connection is.
 *
 * Until a channel's subscription_succeeded is sent, events that arrive for it are held, so a
 * Pusher client always sees subscription_succeeded first. A member event about this connection's
 * own user is never sent to it (Pusher lists the user in subscription_succeeded instead).
 */

import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { PreparedEvent } from "../hub/prepared-event.js";
import type { HubStats } from "../hub/stats.js";
import { WebSocketSession } from "../transports/websocket-session.js";
import type { PusherApp } from "./apps.js";
import type { ChannelKind } from "./channel-names.js";
import { pusherCloseCode } from "./codes.js";
import { pusherEventPayload, pusherEventWebSocketFrame } from "./event-frame.js";
import { cacheMiss } from "./frames.js";
import { MEMBER_ADDED, MEMBER_REMOVED, type Member } from "./members.js";

export interface PusherChannel {
  /** The Pusher name the client subscribed with. */
  readonly name: string;
  readonly kind: ChannelKind;
  /** The member this connection is, on a presence channel. */
  readonly member: Member | undefined;
  /** Whether subscription_succeeded was sent; events wait in `held` until then. */
  ready: boolean;
  readonly held: PreparedEvent[];
  /** Whether the subscription was recorded in the engine (occupancy, presence), and whether it was taken out again. */
  entered: boolean;
  left: boolean;
}

export class PusherSession extends WebSocketSession {
  /** By Herald channel, as the hub's subscriptions are keyed. */
  readonly channels = new Map<string, PusherChannel>();
  /** Pusher has no frame for a subscription the server adds or removes: the server API leaves them alone. */
  override readonly followsServerSubscriptions = false;
  /** When the client last sent anything (a frame, a pong); the activity watch reads it. */
  lastHeard = Date.now();
  /** When the server pinged this connection and is waiting for anything back. */
  pingedAt: number | undefined;
  /** The user id this connection signed in as (pusher:signin). */
  signedIn: string | undefined;

  constructor(
    socketId: string,
    readonly app: PusherApp,
    remoteAddress: string,
    socket: WebSocket,
    raw: Duplex,
    sendQueueBytes: number,
    stats: HubStats,
  ) {
    super(socketId, remoteAddress, "herald", socket, raw, sendQueueBytes, stats);
  }

  heardFrom(): void {
    this.lastHeard = Date.now();
    this.pingedAt = undefined;
  }

  override deliver(event: PreparedEvent): void {
    const channel = this.channels.get(event.event.channel);
    if (!channel) return;
    const { type, data } = event.event;
    if ((type === MEMBER_ADDED || type === MEMBER_REMOVED) && channel.member && String((data as { user_id?: unknown } | null)?.user_id) === channel.member.user) return;
    if (!channel.ready) {
      channel.held.push(event);
      return;
    }
    super.deliver(event);
  }

  /**
   * Sends subscription_succeeded (as `frame`), then on a cache channel its cached event (or
   * pusher:cache_miss), then the events held meanwhile that came after the cached one.
   */
  markReady(heraldChannel: string, frame: string, cache?: { readonly last: PreparedEvent | undefined }): void {
    const channel = this.channels.get(heraldChannel);
    if (!channel || channel.ready) return;
    this.sendText(frame);
    channel.ready = true;
    const last = cache?.last;
    if (cache && !last) this.sendText(cacheMiss(channel.name));
    if (last) this.deliver(last);
    for (const event of channel.held.splice(0)) if (!last || event.event.offset > last.event.offset) this.deliver(event);
  }

  // The hub's control frames (subscribed, ...) are Herald's protocol; Pusher frames are sent by the endpoint.
  override sendFrame(): void {}

  /** Closes with a Pusher code as it is. */
  closeWith(code: number, reason: string): void {
    super.close(code, reason);
  }

  /** A close the hub asks for, with a Herald code: sent as the Pusher code that means the same. */
  override close(code: number, reason: string): void {
    super.close(pusherCloseCode(code), reason);
  }

  protected override payloadOf(event: PreparedEvent): Buffer {
    return pusherEventPayload(event, this.nameOf(event));
  }

  protected override frameOf(event: PreparedEvent): Buffer {
    return pusherEventWebSocketFrame(event, this.nameOf(event));
  }

  /** The Pusher name of the event's channel (deliver only passes events of channels held here). */
  private nameOf(event: PreparedEvent): string {
    return this.channels.get(event.event.channel)?.name ?? event.event.channel;
  }
}
