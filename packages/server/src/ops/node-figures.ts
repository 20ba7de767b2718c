/**
 * A node's own figures (what /api/status shows about this process), and their totals over the
 * workers of `herald serve --workers`: counts add up, while users and channels are counted once
 * however many workers hold them.
 */

import type { Hub } from "../hub/hub.js";
import type { TransportName } from "../hub/session.js";
import type { HubStats } from "../hub/stats.js";

export interface TransportFigures {
  readonly connections: number;
  readonly delivered: number;
  readonly bytesSent: number;
}

/** Counts only: no channel name, user, event or address (anyone may read /api/status). */
export interface Figures {
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
  readonly users: number;
  readonly transports: Record<TransportName, TransportFigures>;
  readonly events: { readonly published: number; readonly delivered: number };
  readonly slowConsumerDisconnects: number;
}

export interface NodeFigures extends Figures {
  readonly node: string;
}

/** What a worker or node tells the one asking: its figures, and the names behind its users and channels so they are counted once. */
export interface FiguresAnswer extends NodeFigures {
  readonly userNames: string[];
  readonly channelNames: string[];
}

/** The workers of one `herald serve --workers`, or the nodes of a cluster, as /api/status shows them. */
export interface GroupFigures {
  /** Workers (nodes) that answered. */
  readonly count: number;
  /** Workers (nodes) that did not answer in time (stuck or just exiting). */
  readonly missing: number;
  readonly totals: Figures;
  /** Each answering worker's (node's) own figures. */
  readonly nodes: NodeFigures[];
}

const TRANSPORTS: readonly TransportName[] = ["websocket", "sse", "polling"];

export function nodeFigures(hub: Hub, stats: HubStats, node: string): NodeFigures {
  const counts = hub.counts();
  const transport = (name: TransportName): TransportFigures => ({ connections: counts.byTransport[name], delivered: stats.deliveredBy[name], bytesSent: stats.bytesSent[name] });
  return {
    node,
    connections: counts.connections,
    subscriptions: counts.subscriptions,
    channels: counts.channels,
    users: counts.users,
    transports: { websocket: transport("websocket"), sse: transport("sse"), polling: transport("polling") },
    events: { published: stats.eventsPublished, delivered: stats.eventsDelivered },
    slowConsumerDisconnects: stats.slowConsumerDisconnects,
  };
}

export function figuresAnswer(hub: Hub, stats: HubStats, node: string): FiguresAnswer {
  return { ...nodeFigures(hub, stats, node), userNames: [...hub.users()], channelNames: hub.channelNames() };
}

export function sumFigures(answers: readonly FiguresAnswer[], missing: number): GroupFigures {
  const users = new Set<string>();
  const channels = new Set<string>();
  const transports = Object.fromEntries(TRANSPORTS.map((name) => [name, { connections: 0, delivered: 0, bytesSent: 0 }])) as Record<TransportName, { connections: number; delivered: number; bytesSent: number }>;
  const totals = { connections: 0, subscriptions: 0, published: 0, delivered: 0, slowConsumerDisconnects: 0 };
  const nodes: NodeFigures[] = [];
  for (const { userNames, channelNames, ...figures } of answers) {
    for (const user of userNames) users.add(user);
    for (const channel of channelNames) channels.add(channel);
    totals.connections += figures.connections;
    totals.subscriptions += figures.subscriptions;
    totals.published += figures.events.published;
    totals.delivered += figures.events.delivered;
    totals.slowConsumerDisconnects += figures.slowConsumerDisconnects;
    for (const name of TRANSPORTS) {
      transports[name].connections += figures.transports[name].connections;
      transports[name].delivered += figures.transports[name].delivered;
      transports[name].bytesSent += figures.transports[name].bytesSent;
    }
    nodes.push(figures);
  }
  return {
    count: answers.length,
    missing,
    totals: {
      connections: totals.connections,
      subscriptions: totals.subscriptions,
      channels: channels.size,
      users: users.size,
      transports,
      events: { published: totals.published, delivered: totals.delivered },
      slowConsumerDisconnects: totals.slowConsumerDisconnects,
    },
    nodes,
  };
}
