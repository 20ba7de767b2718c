/**
 * The holder of the shared connection: one Herald client (share off) and the tabs attached to it.
 * It answers each tab as the server would, so that a tab's client keeps its own recovery and
 * de-duplication unchanged: a tab subscribes with `since`, gets `subscribed` with `recovered`, then
 * the events after its position.
 *
 * Invariants:
 * - One server subscription per channel, held while at least one tab wants the channel.
 * - A tab's channel is `live` once answered: from then on it gets every event the connection
 *   delivers, in order. Before that it gets none, and the answer brings it up to date: the
 *   events after its `since` come from the channel's recent events kept here or, for a holder
 *   that took over and has none, from the server's history (`/api/history`), with the live events
 *   held back meanwhile. The tab drops what it already has, so nothing is applied twice.
 * - When the connection drops, every tab is told (state) and every channel stops being live; on
 *   `connected` the tabs subscribe again from their positions, as after any reconnect.
 */

import type { EventFrame, StreamPosition, TagFilter } from "@herald/protocol";
import { Herald, type HeraldOptions } from "../herald.js";
import type { ChannelState, Subscription, SubscriptionErrorContext } from "../subscription.js";
import type { IncomingFrame } from "../transports/transport.js";
import type { HostMessage, TabMessage } from "./messages.js";

/** Where the holder sends a tab's messages. */
export interface TabPort {
  post(message: HostMessage): void;
}

interface TabChannel {
  live: boolean;
  /** The subscribe waiting for its answer, and where the tab stands. */
  id?: string | number | undefined;
  since?: StreamPosition | undefined;
  /** Live events held back while the gap before them is read from history. */
  held?: EventFrame[] | undefined;
  /**
   * The tab's tag filter. The shared connection holds the channel unfiltered (tabs may filter it
   * differently) and each tab gets only what passes its own; positions stay the connection's.
   */
  filter?: TagFilter | undefined;
}

interface Tab {
  id: string;
  page: string;
  port: TabPort;
  getToken: boolean;
  channels: Map<string, TabChannel>;
}

interface HostChannel {
  name: string;
  handle: Subscription;
  state: ChannelState;
  tabs: Set<Tab>;
  /** The last events delivered, so that a tab a little behind catches up without an HTTP request. */
  recent: EventFrame[];
}

const RECENT_EVENTS = 256;

export class ShareHost {
  readonly herald: Herald;
  private readonly tabs = new Map<string, Tab>();
  private readonly channels = new Map<string, HostChannel>();
  private readonly pages = new Set<string>();
  private readonly tokenAsks = new Map<number, { tab: string; resolve(token: string): void; reject(error: Error): void }>();
  private nextAsk = 1;

  /** `watchPage(page, gone)` calls `gone` once the page (all its tabs) has gone away. */
  constructor(
    options: HeraldOptions,
    private readonly watchPage: (page: string, gone: () => void) => void,
  ) {
    this.herald = new Herald({ ...options, share: false });
    this.herald.on("state", (change) => {
      if (change.newState !== "connected") for (const tab of this.tabs.values()) for (const channel of tab.channels.values()) this.pause(channel);
      for (const tab of this.tabs.values()) {
        tab.port.post({ t: "state", to: tab.id, change });
        if (change.newState === "connected" && change.oldState !== "connected") this.greet(tab);
      }
    });
    this.herald.on("error", (error) => {
      for (const tab of this.tabs.values()) this.send(tab, { type: "error", code: error.code, message: error.message });
    });
    this.herald.on("server_subscribed", ({ channel }) => {
      const shared = this.hostChannel(channel);
      const position = shared.state.position;
      for (const tab of this.tabs.values()) {
        tab.channels.set(channel, { live: true });
        shared.tabs.add(tab);
        this.send(tab, { type: "subscribed", channel, epoch: position?.epoch, offset: position?.offset, recovered: false });
      }
    });
  }

  /** A tab attaches (again): it gets the connection's state, and `connected` once there is one. */
  hello(id: string, page: string, port: TabPort, getToken: boolean): void {
    this.bye(id);
    const tab: Tab = { id, page, port, getToken, channels: new Map() };
    this.tabs.set(id, tab);
    if (!this.pages.has(page)) {
      this.pages.add(page);
      this.watchPage(page, () => this.pageGone(page));
    }
    if (this.herald.state === "disconnected" || this.herald.state === "failed") return this.herald.connect();
    port.post({ t: "state", to: id, change: this.herald.lastStateChange });
    if (this.herald.state === "connected") this.greet(tab);
  }

  receive(message: Exclude<TabMessage, { t: "hello" }>): void {
    if (message.t === "bye") return this.bye(message.tab);
    if (message.t === "token") {
      const ask = this.tokenAsks.get(message.id);
      this.tokenAsks.delete(message.id);
      if (message.token !== undefined) ask?.resolve(message.token);
      else ask?.reject(new Error(message.error ?? "no token"));
      return;
    }
    const tab = this.tabs.get(message.tab);
    if (!tab) return;
    const frame = message.frame;
    if (frame.type === "subscribe") this.subscribe(tab, frame.channel, frame.id, frame.since, frame.filter);
    else if (frame.type === "unsubscribe") {
      this.release(tab, frame.channel);
      this.send(tab, { type: "unsubscribed", id: frame.id, channel: frame.channel });
    } else if (frame.type === "publish") {
      this.herald.publish(frame.channel, frame.event, frame.data, frame.tags === undefined ? {} : { tags: frame.tags }).then(
        (published) => this.send(tab, { ...published, id: frame.id }),
        (error: { code?: string; message: string }) => this.send(tab, { type: "error", id: frame.id, code: error.code ?? "disconnected", message: error.message }),
      );
    }
  }

  /** A token from one of the tabs that have a getToken (worker mode): one request, whoever needs it. */
  askToken(): Promise<string> {
    const tab = [...this.tabs.values()].reverse().find((candidate) => candidate.getToken);
    if (!tab) return Promise.reject(new Error("no tab left to ask for a token"));
    const id = this.nextAsk++;
    return new Promise((resolve, reject) => {
      this.tokenAsks.set(id, { tab: tab.id, resolve, reject });
      tab.port.post({ t: "token", to: tab.id, id });
    });
  }

  private bye(id: string): void {
    const tab = this.tabs.get(id);
    if (!tab) return;
    this.tabs.delete(id);
    for (const channel of [...tab.channels.keys()]) this.release(tab, channel);
    for (const [askId, ask] of this.tokenAsks) {
      if (ask.tab !== id) continue;
      this.tokenAsks.delete(askId);
      ask.reject(new Error("the tab asked for a token went away"));
    }
    if (this.tabs.size === 0) this.herald.disconnect();
  }

  private pageGone(page: string): void {
    this.pages.delete(page);
    for (const tab of [...this.tabs.values()]) if (tab.page === page) this.bye(tab.id);
  }

  private greet(tab: Tab): void {
    this.send(tab, { type: "connected", connectionId: "", node: "", pingInterval: 0 });
  }

  private send(tab: Tab, frame: object): void {
    tab.port.post({ t: "frame", to: tab.id, frame: frame as IncomingFrame });
  }

  private pause(channel: TabChannel): void {
    channel.live = false;
    channel.id = channel.held = undefined;
  }

  private hostChannel(name: string): HostChannel {
    const existing = this.channels.get(name);
    if (existing) return existing;
    const handle = this.herald.subscribe(name);
    const shared: HostChannel = { name, handle, state: this.herald.channel(name) as unknown as ChannelState, tabs: new Set(), recent: [] };
    this.channels.set(name, shared);
    shared.state.tap = (frame) => this.event(shared, frame);
    handle.on("subscribed", (context) => {
      for (const tab of shared.tabs) {
        const channel = tab.channels.get(name)!;
        // Already live: the connection found a gap on its own (polling); the tab hears of it as from the server.
        if (channel.live && channel.id === undefined) this.send(tab, { type: "subscribed", ...context });
        else this.answer(shared, tab, channel);
      }
    });
    handle.on("error", (error) => this.refused(shared, error));
    handle.on("unsubscribed", (context) => {
      if (context.code === undefined) return;
      this.channels.delete(name);
      for (const tab of shared.tabs) {
        tab.channels.delete(name);
        this.send(tab, { type: "unsubscribed", ...context });
      }
    });
    return shared;
  }

  private subscribe(tab: Tab, name: string, id: string | number | undefined, since: StreamPosition | undefined, filterText: string | undefined): void {
    const shared = this.hostChannel(name);
    const channel: TabChannel = { live: false, id, since };
    tab.channels.set(name, channel);
    shared.tabs.add(tab);
    if (filterText === undefined) return this.settle(shared, tab, channel);
    // The filter compiler loads on first use, so that the core every page loads goes without it.
    // Meanwhile the tab's answer waits as for a gap (`held`); what arrives is in `recent` or history.
    const compiling: EventFrame[] = (channel.held = []);
    void import("@herald/protocol/tag-filter").then(({ compileTagFilter }) => {
      if (tab.channels.get(name) !== channel || channel.held !== compiling) return;
      channel.held = undefined;
      const compiled = compileTagFilter(filterText);
      if (compiled.ok) {
        channel.filter = compiled.matches;
        return this.settle(shared, tab, channel);
      }
      this.release(tab, name);
      this.send(tab, { type: "error", id, channel: name, code: "invalid_filter", message: compiled.message });
    });
  }

  /** Answers a tab's subscribe as the connection's channel stands: subscribed, refused, or still on its way. */
  private settle(shared: HostChannel, tab: Tab, channel: TabChannel): void {
    const { id } = channel;
    const name = shared.name;
    const { status, error } = shared.state.state;
    if (status === "subscribed") this.answer(shared, tab, channel);
    else if (status === "failed" && error) this.send(tab, { type: "error", id, channel: name, code: error.code, message: error.message });
  }

  /** Answers a tab's subscribe once the connection holds the channel, bringing the tab up to date from its `since`. */
  private answer(shared: HostChannel, tab: Tab, channel: TabChannel): void {
    if (channel.id === undefined || channel.held) return;
    const id = channel.id;
    // A pattern has no position of its own (each matched channel has one): a tab's pattern starts
    // live from the host's subscription, without recovery through the host.
    const at = shared.state.position ?? { epoch: "", offset: 0 };
    const since = shared.state.matcher ? undefined : channel.since;
    const reply = (recovered: boolean, missed: EventFrame[], held: EventFrame[] = []): void => {
      channel.id = channel.held = undefined;
      channel.live = true;
      this.send(tab, { type: "subscribed", id, channel: shared.name, epoch: at.epoch, offset: at.offset, recovered });
      for (const frame of missed) if (passes(channel, frame)) this.send(tab, frame);
      for (const frame of held) if (passes(channel, frame)) this.send(tab, frame);
    };
    if (!since || since.epoch !== at.epoch) return reply(false, []);
    if (since.offset >= at.offset) return reply(true, []);
    const missed = shared.recent.filter((frame) => frame.epoch === at.epoch && frame.offset > since.offset && frame.offset <= at.offset);
    if (missed.length === at.offset - since.offset) return reply(true, missed);
    const held: EventFrame[] = (channel.held = []);
    void this.herald.history(shared.name, { since: since.offset }).then(
      (history) => (history.epoch === since.epoch && history.complete ? history.events : undefined),
      () => undefined,
    ).then((events) => {
      // Released, paused or asked again meanwhile: that answer is no longer wanted.
      if (tab.channels.get(shared.name) !== channel || channel.held !== held) return;
      channel.held = undefined;
      if (events) reply(true, events, held);
      else reply(false, [], held);
    });
  }

  private event(shared: HostChannel, frame: EventFrame): void {
    shared.recent.push(frame);
    if (shared.recent.length > RECENT_EVENTS) shared.recent.shift();
    for (const tab of shared.tabs) {
      const channel = tab.channels.get(shared.name);
      if (channel?.held) channel.held.push(frame);
      else if (channel?.live && passes(channel, frame)) this.send(tab, frame);
    }
  }

  private refused(shared: HostChannel, error: SubscriptionErrorContext): void {
    for (const tab of shared.tabs) {
      const channel = tab.channels.get(shared.name)!;
      this.send(tab, { type: "error", id: channel.id, channel: shared.name, code: error.code, message: error.message });
    }
  }

  private release(tab: Tab, name: string): void {
    tab.channels.delete(name);
    const shared = this.channels.get(name);
    if (!shared?.tabs.delete(tab) || shared.tabs.size > 0) return;
    this.channels.delete(name);
    shared.handle.unsubscribe();
  }
}

function passes(channel: TabChannel, frame: EventFrame): boolean {
  return channel.filter === undefined || channel.filter(frame.tags);
}
