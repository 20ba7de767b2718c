/**
 * What a tab and the holder of the shared connection (a SharedWorker, or the leading tab) say to
 * each other. Everything here crosses a MessagePort or a BroadcastChannel, so it is plain data.
 */

import type { ClientFrame } from "@herald/protocol";
import type { HeraldOptions, StateChange } from "../herald.js";
import type { IncomingFrame } from "../transports/transport.js";

/** A tab's options without the functions and objects a worker cannot receive. */
export type PortableOptions = Omit<HeraldOptions, "getToken" | "WebSocket" | "fetch" | "shareWorker">;

/** From a tab (one client: a page may hold several) to the holder. */
export type TabMessage =
  /** Attach, or attach again to a new holder; `page` names the Web Lock the page holds while it lives. */
  | { t: "hello"; tab: string; page: string; getToken: boolean; options: PortableOptions }
  /** subscribe, unsubscribe or publish, as the client would send them to the server. */
  | { t: "frame"; tab: string; frame: ClientFrame }
  | { t: "bye"; tab: string }
  /** The answer to a holder's `token` request. */
  | { t: "token"; tab: string; id: number; token?: string; error?: string };

/** From the holder to one tab. */
export type HostMessage =
  | { t: "state"; to: string; change: StateChange }
  | { t: "frame"; to: string; frame: IncomingFrame }
  /** The holder needs a token (worker only: it cannot call the tab's getToken itself). */
  | { t: "token"; to: string; id: number };

/** Leader-tab mode only, on the BroadcastChannel: who holds the connection. */
export type LeaderMessage = { t: "leader"; page: string } | { t: "who" };

export function randomId(): string {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

/**
 * The Web Lock a SharedWorker holds while it lives; its tabs wait on it (shared) to learn that the
 * worker is gone (crashed, or ended by the browser) and start another.
 */
export function workerLock(key: string): string {
  return `herald-share worker ${key}`;
}

/** The Web Lock a page holds while it is alive: whoever holds the connection waits on it to learn that the page is gone. */
export function pageLock(page: string): string {
  return `herald-share page ${page}`;
}
