/**
 * Test support: two IpcPorts joined in one process, carrying messages as Node's IPC channel does
 * between a cluster primary and a worker: each message serialised to JSON and delivered later, in
 * order. `close()` closes both ends at once, as a worker's death closes its pipe.
 */

import type { IpcPort } from "../../src/shared/ipc-peer.js";

export interface IpcPair {
  readonly a: IpcPort;
  readonly b: IpcPort;
  close(): void;
}

export function ipcPair(): IpcPair {
  let open = true;
  const listeners = { a: [] as Array<(message: unknown) => void>, b: [] as Array<(message: unknown) => void> };
  const closers: Array<() => void> = [];
  const end = (to: "a" | "b", self: "a" | "b"): IpcPort => ({
    send(message) {
      if (!open) return false;
      const text = JSON.stringify(message);
      setImmediate(() => {
        if (open) for (const listener of listeners[to]) listener(JSON.parse(text));
      });
      return true;
    },
    onMessage: (listener) => void listeners[self].push(listener),
    onClose: (listener) => void closers.push(listener),
  });
  return {
    a: end("b", "a"),
    b: end("a", "b"),
    close() {
      if (!open) return;
      open = false;
      for (const closer of closers.splice(0)) closer();
    },
  };
}
