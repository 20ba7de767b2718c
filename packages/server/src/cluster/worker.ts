/**
 * One worker process of `herald serve --workers N`: an ordinary Herald on the shared port, given
 * its node name and the admin token by the primary. With the memory engine its engine is the one
 * the primary holds (IpcEngine); with Redis it is an ordinary node. It drains (1001 to its clients)
 * on SIGTERM or SIGINT, which is how the primary stops it. Should the primary die, Node ends its
 * workers at once: the port was the primary's.
 */

import type { HeraldConfigInput } from "../config/schema.js";
import { IpcEngine } from "../engine/ipc-engine.js";
import { Herald } from "../herald.js";
import type { SiblingAnswers, WorkerGroup } from "../ops/worker-group.js";
import { cannotStart } from "../ops/serve-output.js";
import { isHeraldError } from "../shared/herald-error.js";
import { IpcPeer } from "../shared/ipc-peer.js";
import { primaryPort } from "./process-port.js";

/** What the primary tells a worker when it starts (answer to `worker.hello`). */
export interface WorkerAssignment {
  readonly slot: number;
  readonly node: string;
  readonly adminToken: string;
  /** The name of the engine the primary serves over IPC, or undefined when each worker makes its own (Redis). */
  readonly sharedEngine?: string;
}

export interface WorkerOptions {
  readonly configFile?: string;
  /** The command line's settings (port, host). */
  readonly overrides: HeraldConfigInput;
  readonly err: (text: string) => void;
}

/** Runs this process as a worker; resolves with an exit code when it cannot start, or -1 once it serves. */
export async function runWorker(options: WorkerOptions): Promise<number> {
  const peer = new IpcPeer(primaryPort(), (error, method) => options.err(`herald: worker could not handle ${method}: ${(error as Error).message}\n`));
  const assignment = (await peer.call("worker.hello")) as WorkerAssignment;
  const group: WorkerGroup = {
    survey: (request) => peer.call("workers.survey", request) as Promise<SiblingAnswers>,
    answer: (handler) => peer.handle("worker.answer", handler),
  };
  let herald: Herald;
  try {
    herald = new Herald({
      env: process.env,
      ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
      config: { ...options.overrides, node: assignment.node, security: { adminToken: assignment.adminToken } },
      ...(assignment.sharedEngine === undefined ? {} : { engine: new IpcEngine(peer, assignment.sharedEngine) }),
      workers: group,
    });
  } catch (error) {
    if (!isHeraldError(error, "invalid_config")) throw error;
    options.err(`herald: ${error.message}\n`);
    return giveUp();
  }
  // The handlers are in place before listening: the primary's banner can come as soon as the port
  // is bound, before listen() here has resolved, and Ctrl-C then (it reaches every process of the
  // terminal's group) would kill this worker by the signal, which the primary reports as exit 1.
  // A worker stopped before it serves has nothing to drain, and ends at once, as it did by signal.
  let serving = false;
  let draining = false;
  const drain = (): void => {
    if (!serving) process.exit(0);
    if (draining) return;
    draining = true;
    herald.close().then(
      () => process.exit(0),
      (error: unknown) => {
        herald.logger.error({ err: error }, "worker shutdown failed");
        process.exit(1);
      },
    );
  };
  // The primary stops its workers with SIGTERM; Ctrl-C in a terminal reaches every process of the group.
  process.on("SIGTERM", drain);
  process.on("SIGINT", drain);
  try {
    await herald.listen();
  } catch (error) {
    options.err(cannotStart(error, herald.config.port));
    return giveUp();
  }
  serving = true;
  return -1;
}

/**
 * A worker that cannot start exits 1 at once: its pipe to the primary would keep it alive, and
 * letting go of the pipe makes Node end a worker with 0.
 */
function giveUp(): never {
  process.exit(1);
}
