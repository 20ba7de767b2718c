/**
 * The two ends of the IPC pipe between the primary and one worker of `herald serve --workers`, as
 * IpcPorts. A send on a pipe that broke meanwhile reports through its callback, which is ignored:
 * the pipe's close is what the peer acts on (without a callback Node would raise the error).
 */

import type { Worker } from "node:cluster";
import type { IpcPort } from "../shared/ipc-peer.js";

const ignore = (): void => undefined;

/** In a worker: its pipe to the primary. */
export function primaryPort(): IpcPort {
  return {
    send(message) {
      if (!process.connected || !process.send) return false;
      process.send(message as object, undefined, {}, ignore);
      return true;
    },
    onMessage: (listener) => void process.on("message", listener),
    onClose: (listener) => void process.once("disconnect", listener),
  };
}

/** In the primary: its pipe to one worker. */
export function workerPort(worker: Worker): IpcPort {
  return {
    send(message) {
      if (!worker.isConnected()) return false;
      worker.send(message as object, ignore);
      return true;
    },
    onMessage: (listener) => void worker.on("message", listener),
    onClose(listener) {
      // A killed worker's pipe closes with it; either event may come first, the peer acts once.
      worker.once("disconnect", listener);
      worker.once("exit", listener);
    },
  };
}
