/** A forked TypeScript process driven by request/response messages over IPC. */

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const benchRoot = fileURLToPath(new URL("..", import.meta.url));

export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  exited = false;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.on("message", (message: { id?: number; result?: unknown; error?: string }) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(`${name}: ${message.error}`));
      else waiter?.resolve(message.result);
    });
    process.on("exit", (code, signal) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /**
   * Forks `file` (relative to bench/) through tsx and waits for its `ready` message. Without the
   * herald-source condition, `@herald/server` is its compiled build (dist/), as `npm start` runs it:
   * tsx compiles with esbuild's keepNames, which gives every named closure a defineProperty call
   * and a 256-byte property dictionary, and so would inflate Herald's CPU and memory per connection.
   */
  static async start(name: string, file: string, execArgv: string[] = [], args: string[] = []): Promise<{ child: Child; ready: Record<string, unknown> }> {
    const child = fork(benchRoot + file, args, {
      execArgv: ["--import", "tsx", "--expose-gc", ...execArgv],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.once("message", (message: Record<string, unknown>) => resolve(message));
      child.once("exit", (code) => reject(new Error(`${name} exited before it was ready (code ${code})`)));
    });
    return { child: new Child(name, child), ready };
  }

  request<T>(request: object): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.send({ id, request });
    });
  }

  /** Asks the child to stop, and kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
    try {
      this.process.send({ id: 0, request: { cmd: "stop" } });
      this.process.disconnect();
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
