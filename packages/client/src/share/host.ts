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
 * - A pattern is held once, unfiltered, like a channel. A tab's pattern gets every event of a
 *   matching channel, also while the connection holds that channel by name for another tab, or
 *   is subscribing to it (the client hands such events to the channel's own subscription). A tab subscribes to a pattern
 *   again with its channels' `positions`, answered channel by channel (pattern-catch-up.ts).
 */

import type { EventFrame, StreamPosition, TagFilter } from "@herald/protocol";
import { Herald, type HeraldOptions } from "../herald.js";
import type { ChannelState, RecoveryFailedContext, Subscription, SubscriptionErrorContext } from "../subscription.js";
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
  /** A pattern's: the position of each channel the tab had events of. */
  positions?: Record<string, StreamPosition> | undefined;
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
  /** A pattern's: the last event forwarded of each matching channel. */
  seen?: Map<string, StreamPosition>;
}

const RECENT_EVENTS = 256;

export class ShareHost {
  readonly herald: Herald;
  private readonly tabs = new Map<string, Tab>();
  private readonly channels = new Map<string, HostChannel>();
  /** The patterns among `channels`: an event goes to the tabs of its channel and of every pattern it matches. */
  private readonly patterns = new Set<HostChannel>();
  private readonly pages = new Set<string>();
  private readonly tokenAsks = new Map<number, { tab: string; resolve(token: string): void; reject(error: Error): void }>();
  private nextAsk = 1;
  /** Channels the connection could not recover, counted: a pattern's answer computed before one is asked again. */
  private losses = 0;

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
    if (frame.type === "subscribe") this.subscribe(tab, frame.channel, frame.id, frame.since ?? frame.positions, frame.filter);
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
    if (name.includes("*")) {
      shared.seen = new Map();
      this.patterns.add(shared);
    }
    shared.state.tap = (frame) => this.event(frame);
    handle.on("subscribed", (context) => {
      for (const tab of shared.tabs) {
        const channel = tab.channels.get(name)!;
        // Already live: the connection found a gap on its own (polling); the tab hears of it as from the server.
        if (channel.live && channel.id === undefined) this.send(tab, { type: "subscribed", ...context });
        else this.answer(shared, tab, channel);
      }
    });
    handle.on("error", (error) => this.refused(shared, error));
    handle.on("recovery_failed", (failed) => this.lost(failed));
    handle.on("unsubscribed", (context) => {
      if (context.code === undefined) return;
      this.forget(shared);
      for (const tab of shared.tabs) {
        tab.channels.delete(name);
        this.send(tab, { type: "unsubscribed", ...context });
      }
    });
    return shared;
  }

  /** `from`: a channel's `since`, or a pattern's `positions`. */
  private subscribe(tab: Tab, name: string, id: string | number | undefined, from: StreamPosition | Record<string, StreamPosition> | undefined, filterText: string | undefined): void {
    const shared = this.hostChannel(name);
    const channel: TabChannel = { live: false, id };
    if (shared.seen) channel.positions = from as Record<string, StreamPosition> | undefined;
    else channel.since = from as StreamPosition | undefined;
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
    if (shared.seen) return this.answerPattern(shared, tab, channel);
    const id = channel.id;
    const at = shared.state.position ?? { epoch: "", offset: 0 };
    const since = channel.since;
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

  /**
   * Answers a tab's pattern with where each channel of its `positions` stands (a pattern has no
   * position of its own: `epoch` "" and `offset` 0, as from the server), then what it missed.
   */
  private answerPattern(shared: HostChannel, tab: Tab, channel: TabChannel, held: EventFrame[] = []): void {
    const id = channel.id;
    const losses = this.losses;
    channel.held = held;
    // Loaded on the first pattern, so that tabs which never subscribe to one do not load it.
    const answered = import("./pattern-catch-up.js").then(({ catchUp }) => catchUp(channel.positions ?? {}, shared.seen!, shared.recent, (name, since) => this.herald.history(name, { since })));
    void answered.then(({ channels, missed }) => {
      // Released, paused or asked again meanwhile: that answer is no longer wanted.
      if (tab.channels.get(shared.name) !== channel || channel.held !== held) return;
      // The connection lost a channel meanwhile, which this answer may count as recovered: again, keeping what came.
      if (losses !== this.losses) return this.answerPattern(shared, tab, channel, held);
      channel.id = channel.held = undefined;
      channel.live = true;
      const states = Object.values(channels);
      const recovered = states.length > 0 && states.every((state) => state.recovered);
      this.send(tab, { type: "subscribed", id, channel: shared.name, epoch: "", offset: 0, recovered, channels });
      for (const frame of [...missed, ...held]) if (passes(channel, frame)) this.send(tab, frame);
    });
  }

  /**
   * The connection could not recover a channel (its own subscription or a pattern's). A pattern's
   * tabs must not be told they have what it lost: an answer still to come reads it from history,
   * and a tab already live hears it as from the server (`subscribed` naming that channel).
   */
  private lost({ channel: name, epoch, offset }: RecoveryFailedContext): void {
    this.losses += 1;
    for (const pattern of this.patterns) {
      pattern.seen!.delete(name);
      if (!pattern.state.matcher?.test(name)) continue;
      for (const tab of pattern.tabs) {
        const channel = tab.channels.get(pattern.name);
        if (channel?.live) this.send(tab, { type: "subscribed", channel: pattern.name, epoch: "", offset: 0, recovered: false, channels: { [name]: { epoch, offset, recovered: false } } });
      }
    }
  }

  /** An event the connection delivered: to the tabs of its channel and of the patterns it matches. */
  private event(frame: EventFrame): void {
    for (const pattern of this.patterns) {
      const head = pattern.seen!.get(frame.channel);
      // Forwarded already (it came again through another of the connection's subscriptions).
      if (!pattern.state.matcher?.test(frame.channel) || (head?.epoch === frame.epoch && head.offset >= frame.offset)) continue;
      pattern.seen!.set(frame.channel, { epoch: frame.epoch, offset: frame.offset });
      this.forward(pattern, frame);
    }
    const named = this.channels.get(frame.channel);
    // While its subscribe is on its way the channel's own events are yet to come (the answer brings them).
    if (named && !named.state.awaiting) this.forward(named, frame);
  }

  private forward(shared: HostChannel, frame: EventFrame): void {
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
    this.forget(shared);
    shared.handle.unsubscribe();
  }

  private forget(shared: HostChannel): void {
    this.channels.delete(shared.name);
    this.patterns.delete(shared);
  }
}

function passes(channel: TabChannel, frame: EventFrame): boolean {
  return channel.filter === undefined || channel.filter(frame.tags);
}
