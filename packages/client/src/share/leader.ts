/**
 * Leader-tab mode: the tabs of one origin elect, with a Web Lock, the one that holds the
 * connection, and talk to it over a BroadcastChannel. The lock is queued: when the leading tab
 * goes away (closed, crashed, navigated), the browser grants it to the next tab, which opens the
 * connection and announces itself; every tab attaches to it again and subscribes from its own
 * position, so the handover loses nothing (see host.ts).
 *
 * One `PageNode` per page and key, whatever the number of clients in the page.
 */

import type { HeraldOptions } from "../herald.js";
import { ShareHost, type TabPort } from "./host.js";
import type { ShareLink } from "./link.js";
import { pageLock, type HostMessage, type LeaderMessage, type TabMessage } from "./messages.js";

type Message = TabMessage | HostMessage | LeaderMessage;

const nodes = new Map<string, PageNode>();

export function leaderNode(key: string, page: string, alive: Promise<void>, options: HeraldOptions): PageNode {
  let node = nodes.get(key);
  if (!node) nodes.set(key, (node = new PageNode(key, page, alive, options)));
  return node;
}

export class PageNode {
  private readonly channel: BroadcastChannel;
  private readonly links = new Map<string, ShareLink>();
  private host: ShareHost | undefined;
  /** The page that holds the connection, once known. */
  private leader: string | undefined;
  /** This page holds its own lock: only then may it attach anywhere, since the holder waits on that lock. */
  private ready = false;

  constructor(
    key: string,
    private readonly page: string,
    alive: Promise<void>,
    private readonly options: HeraldOptions,
  ) {
    this.channel = new BroadcastChannel(key);
    this.channel.onmessage = (event: MessageEvent<Message>) => this.message(event.data);
    void alive.then(() => {
      this.ready = true;
      void navigator.locks.request(key, () => {
        this.lead();
        return new Promise<never>(() => {});
      });
      this.channel.postMessage({ t: "who" } satisfies LeaderMessage);
    });
  }

  add(link: ShareLink): void {
    this.links.set(link.id, link);
    link.toHost = (message) => this.toHost(message, link);
    if (this.leader) link.hello(this.page);
  }

  remove(link: ShareLink): void {
    this.links.delete(link.id);
  }

  private toHost(message: TabMessage, link: ShareLink): void {
    if (!this.host) return this.channel.postMessage(message);
    // A client of the leading page: no BroadcastChannel, but still asynchronous, as for the others.
    queueMicrotask(() => {
      if (message.t === "hello") this.host?.hello(message.tab, message.page, { post: (answer) => queueMicrotask(() => link.deliver(answer)) }, message.getToken);
      else this.host?.receive(message);
    });
  }

  private lead(): void {
    this.host = new ShareHost(this.options, (page, gone) => void navigator.locks.request(pageLock(page), () => gone()));
    this.leader = this.page;
    this.channel.postMessage({ t: "leader", page: this.page } satisfies LeaderMessage);
    for (const link of this.links.values()) link.hello(this.page);
  }

  private message(message: Message): void {
    if (message.t === "who") {
      if (this.host) this.channel.postMessage({ t: "leader", page: this.page } satisfies LeaderMessage);
    } else if (message.t === "leader") {
      if (message.page === this.leader || this.host || !this.ready) return;
      this.leader = message.page;
      for (const link of this.links.values()) link.hello(this.page);
    } else if ("to" in message) {
      this.links.get(message.to)?.deliver(message);
    } else if (this.host) {
      if (message.t === "hello") {
        const port: TabPort = { post: (answer) => this.channel.postMessage(answer) };
        this.host.hello(message.tab, message.page, port, message.getToken);
      } else this.host.receive(message);
    }
  }
}
