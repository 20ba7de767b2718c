/**
 * The SharedWorker that holds the connection for every tab of an origin. Bundle this file as its
 * own script (`@herald/client/share-worker`) and pass its URL as the client's `shareWorker` option;
 * see the client README for Vite and esbuild.
 *
 * The first tab to attach gives the options; getToken, which cannot cross into a worker, is asked
 * of a tab that has one.
 */

import { ShareHost } from "./host.js";
import { pageLock, workerLock, type TabMessage } from "./messages.js";

interface ConnectEvent {
  ports: readonly MessagePort[];
}

const scope = globalThis as unknown as { onconnect: ((event: ConnectEvent) => void) | null; navigator: Navigator; name: string };
let host: ShareHost | undefined;

// Held for the worker's life, and taken before any tab is answered: a tab that waits on it after
// its answer learns that this worker is gone.
const alive = new Promise<void>((held) => {
  void scope.navigator.locks.request(workerLock(scope.name), () => {
    held();
    return new Promise<never>(() => {});
  });
});

scope.onconnect = (event) => {
  const port = event.ports[0]!;
  port.onmessage = async (message: MessageEvent<TabMessage>) => {
    await alive;
    const data = message.data;
    if (data.t !== "hello") return host?.receive(data);
    host ??= new ShareHost(
      { ...data.options, ...(data.getToken ? { getToken: () => host!.askToken() } : {}) },
      (page, gone) => void scope.navigator.locks.request(pageLock(page), () => gone()),
    );
    host.hello(data.tab, data.page, { post: (answer) => port.postMessage(answer) }, data.getToken);
  };
};
