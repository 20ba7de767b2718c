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
import { pageLock, randomId, workerLock, type HostMessage } from "./messages.js";

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

/**
 * Resolves once the worker answered, or undefined when it cannot start (a wrong URL): the tabs
 * then lead. When that worker is gone (crashed, or ended by the browser), the link attaches to a
 * new one, or to a leading tab when none starts, and the tab subscribes again from its position.
 */
async function workerLink(options: HeraldOptions, tab: TabSide, key: string, held: Promise<void>): Promise<ShareLink | undefined> {
  let detach = (): void => {};
  const link = new ShareLink(options, tab, () => {}, () => detach());
  await held;
  const attach = (): Promise<boolean> => {
    let worker: SharedWorker;
    try {
      worker = new SharedWorker(options.shareWorker!, { name: key, type: "module" });
    } catch {
      return Promise.resolve(false);
    }
    const port = worker.port;
    link.toHost = (message) => port.postMessage(message);
    detach = () => port.close();
    return new Promise<boolean>((resolve) => {
      worker.onerror = () => resolve(false);
      port.onmessage = (event: MessageEvent<HostMessage>) => {
        resolve(true);
        link.deliver(event.data);
      };
      link.hello(page);
    }).then((answered) => {
      // The lock is let go at once (the callback returns nothing to wait on): a new worker waits
      // for every tab to let go before it takes it.
      if (answered) void navigator.locks.request(workerLock(key), { mode: "shared" }, () => void gone(port));
      return answered;
    });
  };
  const gone = async (port: MessagePort): Promise<void> => {
    port.close();
    tab.mirror({ newState: "reconnecting", oldState: "connected", reason: "transport_closed", attempt: 0, maxAttempts: 0, nextDelay: 0, transport: "websocket", message: "the shared worker went away" });
    if (await attach()) return;
    const node = leaderNode(key, page, held, options);
    detach = () => node.remove(link);
    node.add(link);
  };
  return (await attach()) ? link : undefined;
}

/** FNV-1a, to name a token in a lock without spelling it out. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}
