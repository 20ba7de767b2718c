/**
 * One connection per browser profile and origin, loaded on demand by the client (`share` option).
 *
 * - `shareWorker` given and SharedWorker available: the connection lives in that worker, for as
 *   long as any tab of the origin uses it.
 * - Otherwise, with Web Locks and BroadcastChannel: one tab leads and holds it (leader.ts).
 * - Otherwise: undefined, and the client connects by itself as before.
 *
 * Clients share when they name the same Herald `url`, `wsPath` and static `token`. Each page holds a Web Lock for its lifetime;
 * whoever holds the connection waits on it, so a tab that closes or crashes releases what only it
 * needed (host.ts).
 */

import type { HeraldOptions } from "../herald.js";
import type { Transport } from "../transports/transport.js";
import { leaderNode } from "./leader.js";
import { ShareLink, type TabSide } from "./link.js";
import { pageLock, randomId, type HostMessage } from "./messages.js";

const page = randomId();
let alive: Promise<void> | undefined;

/** Takes this page's lock for as long as the page lives; resolves once it is held. */
function pageAlive(): Promise<void> {
  alive ??= new Promise<void>((held) => {
    void navigator.locks.request(pageLock(page), () => {
      held();
      return new Promise<never>(() => {});
    });
  });
  return alive;
}

export async function join(options: HeraldOptions, tab: TabSide): Promise<Transport | undefined> {
  if (!globalThis.navigator?.locks) return undefined;
  // Clients share only a connection they would have opened alike: same Herald, same endpoint, same static token.
  const key = `herald-share ${new URL(options.url, location.href).href} ${options.wsPath ?? ""} ${hash(options.token ?? "")}`;
  const held = pageAlive();
  if (options.shareWorker !== undefined && typeof SharedWorker === "function") {
    const link = await workerLink(options, tab, key, held);
    if (link) return link;
  }
  if (typeof BroadcastChannel !== "function") return undefined;
  const node = leaderNode(key, page, held, options);
  const link: ShareLink = new ShareLink(options, tab, () => {}, () => node.remove(link));
  node.add(link);
  return link;
}

/** Resolves once the worker answered, or undefined when it cannot start (a wrong URL): the tabs then lead. */
async function workerLink(options: HeraldOptions, tab: TabSide, key: string, held: Promise<void>): Promise<ShareLink | undefined> {
  let worker: SharedWorker;
  try {
    worker = new SharedWorker(options.shareWorker!, { name: key, type: "module" });
  } catch {
    return undefined;
  }
  const port = worker.port;
  const link = new ShareLink(options, tab, (message) => port.postMessage(message), () => port.close());
  await held;
  return new Promise((resolve) => {
    worker.onerror = () => resolve(undefined);
    port.onmessage = (event: MessageEvent<HostMessage>) => {
      resolve(link);
      link.deliver(event.data);
    };
    link.hello(page);
  });
}

/** FNV-1a, to name a token in a lock without spelling it out. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}
