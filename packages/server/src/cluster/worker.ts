/**
 * One worker process of `herald serve --workers N`: an ordinary Herald on the shared port, given
 * its node name and the admin token by the primary. With the memory engine its engine is the one
 * the primary holds (IpcEngine); with Redis it is an ordinary node. It drains (1001 to its clients)
 * on SIGTERM or SIGINT, which is how the primary stops it, and also when the primary goes away.
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
  try {
    await herald.listen();
  } catch (error) {
    options.err(cannotStart(error, herald.config.port));
    return giveUp();
  }

  let draining = false;
  const drain = (exitCode: number): void => {
    if (draining) return;
    draining = true;
    herald.close().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        herald.logger.error({ err: error }, "worker shutdown failed");
        process.exit(1);
      },
    );
  };
  // The primary stops its workers with SIGTERM; Ctrl-C in a terminal reaches every process of the group.
  process.on("SIGTERM", () => drain(0));
  process.on("SIGINT", () => drain(0));
  peer.onClose(() => {
    herald.logger.error({ node: herald.node }, "the primary process is gone; this worker drains and exits");
    drain(1);
  });
  return -1;
}

/** A worker that cannot start lets go of its pipe, which would otherwise keep it alive, and exits 1. */
function giveUp(): number {
  process.disconnect?.();
  return 1;
}
