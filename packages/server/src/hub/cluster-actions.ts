/**
 * What the server API does to connections and asks about channels, on every node at once:
 * disconnect a user, unsubscribe a user from a channel, subscribe a user's connections to one,
 * list channels, and one channel's figures.
 *
 * Each is an engine survey (engine contract point 7): every running node acts on its own sessions
 * (`handle`) and answers what it did or holds, and the asking node sums the answers. Nothing is
 * stored for it, so there is nothing to expire when a node dies: a stopped node is not asked, and
 * one that does not answer in time is reported as `unanswered` rather than guessed at. With the
 * memory engine this node is the whole cluster.
 *
 * Sessions are found by `session.user` (a token's `sub`, or a route's user parameter); connections
 * without a user cannot be named here. A polling client has no connection between its polls: only
 * a poll in flight is ended by a disconnect. Server-side subscribe and unsubscribe reach only
 * sessions whose clients follow them (`followsServerSubscriptions`: not polls, not Pusher clients).
 */

import { channelProblem, type ErrorCode } from "@herald/protocol";
import type { Engine } from "../engine/engine.js";
import type { Hub } from "./hub.js";
import type { Session } from "./session.js";
import { HeraldError, isHeraldError } from "../shared/herald-error.js";

/** What one node is asked to do; sent to every node as JSON. */
type ControlRequest =
  | { readonly op: "disconnect"; readonly user: string; readonly reconnect: boolean; readonly reason: string }
  | { readonly op: "unsubscribe"; readonly user: string; readonly channel: string; readonly reason: string }
  | { readonly op: "subscribe"; readonly user: string; readonly channel: string }
  | { readonly op: "channels"; readonly prefix: string }
  | { readonly op: "channel"; readonly channel: string };

/** How many nodes answered, and how many got the request but did not answer in time. */
export interface Reach {
  readonly nodes: number;
  readonly unanswered: number;
}

export interface DisconnectOptions {
  /** True: the clients reconnect at once (close 4010); false (default): they stop (close 4510). */
  readonly reconnect?: boolean;
  /** Shown to the user: the close reason and the error's message. At most 120 bytes. */
  readonly reason?: string;
}

export interface DisconnectResult extends Reach {
  readonly user: string;
  readonly reconnect: boolean;
  /** Connections closed (WebSocket, SSE, long-polls in flight). */
  readonly connections: number;
}

export interface UnsubscribeResult extends Reach {
  readonly user: string;
  readonly channel: string;
  /** Connections whose subscription was removed. */
  readonly connections: number;
}

export interface SubscribeResult extends Reach {
  readonly user: string;
  readonly channel: string;
  /** Connections now subscribed. */
  readonly connections: number;
  /** Connections that could not be subscribed, by error code (`already_subscribed`, `too_many_subscriptions`, ...). */
  readonly refused: Record<string, number>;
}

export interface ChannelCount {
  readonly channel: string;
  /** Subscriptions to it on every node. */
  readonly subscribers: number;
}

export interface ChannelsResult extends Reach {
  /** Most subscribers first, then by name; at most `limit`. */
  readonly channels: ChannelCount[];
  /** Channels matching the prefix, before the limit. */
  readonly total: number;
}

export interface ChannelInfo extends Reach {
  readonly channel: string;
  readonly subscribers: number;
  /** Distinct users among the subscribers, on every node. */
  readonly users: number;
  /** The first USER_IDS of those users in sort order. */
  readonly userIds: string[];
  /** Presence entries (namespaces with `presence: true`), else null. */
  readonly presence: number | null;
}

/** User ids a channel's info lists; the count covers all of them. */
export const USER_IDS = 100;
const MAX_USER_LENGTH = 255;
/** A WebSocket close reason holds 123 bytes; a little is left for the transports' own words. */
const MAX_REASON_BYTES = 120;
const DEFAULT_REASON = { disconnected: "disconnected by the server", reconnect_requested: "the server asked this connection to reconnect", unsubscribed: "unsubscribed by the server" };

export class ClusterActions {
  constructor(
    private readonly hub: Hub,
    private readonly engine: Engine,
  ) {}

  /** Ends every connection of `user` on every node, with a code that tells its client to stop or to reconnect. */
  async disconnect(user: string, options: DisconnectOptions = {}): Promise<DisconnectResult> {
    const reconnect = options.reconnect ?? false;
    const reason = checkReason(options.reason) ?? (reconnect ? DEFAULT_REASON.reconnect_requested : DEFAULT_REASON.disconnected);
    const survey = await this.survey({ op: "disconnect", user: checkUser(user), reconnect, reason });
    return { user, reconnect, connections: sum(survey.answers, "connections"), ...survey.reach };
  }

  /** Removes `user`'s subscriptions to `channel` on every node; each client gets `unsubscribed` with code `server_unsubscribe`. */
  async unsubscribe(user: string, channel: string, reason?: string): Promise<UnsubscribeResult> {
    const request = { op: "unsubscribe" as const, user: checkUser(user), channel: checkChannel(channel), reason: checkReason(reason) ?? DEFAULT_REASON.unsubscribed };
    const survey = await this.survey(request);
    return { user, channel, connections: sum(survey.answers, "connections"), ...survey.reach };
  }

  /**
   * Subscribes every connection of `user` (WebSocket and SSE) to `channel` on every node, as if the
   * client had asked, without the namespace's checks (the backend decided): `subscribed`, then live events.
   */
  async subscribe(user: string, channel: string): Promise<SubscribeResult> {
    const survey = await this.survey({ op: "subscribe", user: checkUser(user), channel: checkChannel(channel) });
    const refused: Record<string, number> = {};
    for (const answer of survey.answers) {
      const counts = (answer as { refused?: unknown }).refused;
      if (typeof counts !== "object" || counts === null) continue;
      for (const [code, count] of Object.entries(counts)) if (typeof count === "number") refused[code] = (refused[code] ?? 0) + count;
    }
    return { user, channel, connections: sum(survey.answers, "connections"), refused, ...survey.reach };
  }

  /** Channels held on any node whose name starts with `prefix`, with their subscribers summed. */
  async channels(prefix = "", limit = 1000): Promise<ChannelsResult> {
    const survey = await this.survey({ op: "channels", prefix });
    const totals = new Map<string, number>();
    for (const answer of survey.answers) {
      const list = (answer as { channels?: unknown }).channels;
      if (!Array.isArray(list)) continue;
      for (const entry of list as Array<{ channel?: unknown; subscribers?: unknown }>) {
        if (typeof entry.channel !== "string" || typeof entry.subscribers !== "number") continue;
        totals.set(entry.channel, (totals.get(entry.channel) ?? 0) + entry.subscribers);
      }
    }
    const channels = [...totals].map(([channel, subscribers]) => ({ channel, subscribers }));
    channels.sort((a, b) => b.subscribers - a.subscribers || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    return { channels: channels.slice(0, limit), total: channels.length, ...survey.reach };
  }

  /** One channel's subscribers and users on every node, and its presence count where presence is on. */
  async channelInfo(channel: string): Promise<ChannelInfo> {
    const survey = await this.survey({ op: "channel", channel: checkChannel(channel) });
    const users = new Set<string>();
    for (const answer of survey.answers) {
      const list = (answer as { users?: unknown }).users;
      if (Array.isArray(list)) for (const user of list) if (typeof user === "string") users.add(user);
    }
    const presence = this.hub.channelOptions(channel).presence ? (await this.hub.presence(channel)).length : null;
    const userIds = [...users].sort().slice(0, USER_IDS);
    return { channel, subscribers: sum(survey.answers, "subscribers"), users: users.size, userIds, presence, ...survey.reach };
  }

  /** This node's part of a request: the engine calls it for surveys from any node, this one included. */
  async handle(request: unknown): Promise<unknown> {
    const message = request as ControlRequest;
    switch (message.op) {
      case "disconnect":
        return { connections: this.disconnectHere(message.user, message.reconnect, message.reason) };
      case "unsubscribe":
        return { connections: await this.unsubscribeHere(message.user, message.channel, message.reason) };
      case "subscribe":
        return this.subscribeHere(message.user, message.channel);
      case "channels":
        return { channels: this.hub.channelList().filter((entry) => entry.channel.startsWith(message.prefix)) };
      case "channel":
        return this.channelHere(message.channel);
      default:
        // A node of another version may send what this one does not know: it counts as unanswered.
        throw new Error(`unknown control request ${JSON.stringify((message as { op?: unknown }).op)}`);
    }
  }

  private async survey(request: ControlRequest): Promise<{ answers: unknown[]; reach: Reach }> {
    const { answers, missing } = await this.engine.survey(request);
    return { answers: answers.filter((answer) => typeof answer === "object" && answer !== null), reach: { nodes: answers.length, unanswered: missing } };
  }

  private sessionsOf(user: string): Session[] {
    return [...this.hub.sessions].filter((session) => session.user === user && !session.closed);
  }

  private disconnectHere(user: string, reconnect: boolean, reason: string): number {
    const code: ErrorCode = reconnect ? "reconnect_requested" : "disconnected";
    const closeCode = new HeraldError(code, reason).closeCode;
    const sessions = this.sessionsOf(user);
    for (const session of sessions) {
      // The error frame first: SSE and long-polls have no close code, so it is what their clients act on.
      session.sendFrame({ type: "error", code, message: reason });
      session.close(closeCode, reason);
    }
    return sessions.length;
  }

  private async unsubscribeHere(user: string, channel: string, reason: string): Promise<number> {
    const removed = await Promise.all(
      this.sessionsOf(user)
        .filter((session) => session.followsServerSubscriptions && session.subscriptions.has(channel))
        .map(async (session) => {
          try {
            await this.hub.unsubscribe(session, channel);
          } catch (error) {
            if (isHeraldError(error, "not_subscribed")) return false;
            throw error;
          }
          session.sendFrame({ type: "unsubscribed", channel, code: "server_unsubscribe", reason });
          return true;
        }),
    );
    return removed.filter(Boolean).length;
  }

  private async subscribeHere(user: string, channel: string): Promise<{ connections: number; refused: Record<string, number> }> {
    const sessions = this.sessionsOf(user).filter((session) => session.followsServerSubscriptions);
    const outcomes = await Promise.allSettled(sessions.map((session) => this.hub.subscribe(session, channel, { granted: true })));
    let connections = 0;
    const refused: Record<string, number> = {};
    outcomes.forEach((outcome, index) => {
      if (outcome.status === "rejected") {
        const { code } = HeraldError.from(outcome.reason);
        refused[code] = (refused[code] ?? 0) + 1;
      } else if (sessions[index]!.subscriptions.has(channel)) {
        connections += 1;
      }
    });
    return { connections, refused };
  }

  private channelHere(channel: string): { subscribers: number; users: string[] } {
    let subscribers = 0;
    const users = new Set<string>();
    for (const session of this.hub.sessions) {
      if (session.closed || !session.subscriptions.has(channel)) continue;
      subscribers += 1;
      if (session.user !== undefined) users.add(session.user);
    }
    return { subscribers, users: [...users] };
  }
}

function sum(answers: unknown[], field: string): number {
  let total = 0;
  for (const answer of answers) {
    const value = (answer as Record<string, unknown>)[field];
    if (typeof value === "number") total += value;
  }
  return total;
}

function checkUser(user: unknown): string {
  if (typeof user !== "string" || user.length === 0 || user.length > MAX_USER_LENGTH) {
    throw new HeraldError("invalid_body", `user must be the user's id (a token's sub), a string of 1 to ${MAX_USER_LENGTH} characters`);
  }
  return user;
}

function checkChannel(channel: unknown): string {
  const problem = channelProblem(channel);
  if (problem) throw new HeraldError(typeof channel === "string" ? "invalid_channel" : "invalid_body", `channel: ${problem}`);
  return channel as string;
}

function checkReason(reason: unknown): string | undefined {
  if (reason === undefined) return undefined;
  if (typeof reason !== "string" || reason.length === 0 || Buffer.byteLength(reason) > MAX_REASON_BYTES) {
    throw new HeraldError("invalid_body", `reason must be a string of 1 to ${MAX_REASON_BYTES} bytes (it travels in a WebSocket close frame)`);
  }
  return reason;
}
