/**
 * Calls between two processes over a message pipe, as a cluster worker and its primary have:
 * requests by method name that get one answer, one-way notices, and the handlers that serve them.
 * Both ends may call and serve. Messages are plain JSON values, which is what Node's IPC channel
 * carries (its default serialisation). JSON would turn an undefined argument into null, which an
 * optional parameter does not expect, so their positions travel beside the arguments; an
 * undefined result arrives as undefined.
 *
 * A call whose pipe closes before its answer rejects with a HeraldError: `engine_unavailable` when
 * the call could not be sent, `engine_timeout` when it was sent and may have been carried out (a
 * publish sent may have been stored). The pipe is the one to the process holding the engine; the
 * caller may read either more narrowly (its detail is PIPE_CLOSED).
 */

import { HeraldError } from "./herald-error.js";
import type { ErrorCode } from "@herald/protocol";

/** One end of a message pipe between two processes. */
export interface IpcPort {
  /** Sends one message; false when the pipe is closed and nothing was sent. */
  send(message: unknown): boolean;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the pipe closes: the other process exited or let go of it. */
  onClose(listener: () => void): void;
}

type Handler = (...args: any[]) => unknown;

interface WireError {
  readonly code?: string;
  readonly message: string;
  readonly detail?: string;
}

/** Every message this file sends carries `herald`, so other users of the same pipe are left alone. */
type Message =
  | { readonly herald: "call"; readonly id: number; readonly method: string; readonly args: unknown[]; readonly holes?: number[] }
  | { readonly herald: "notice"; readonly method: string; readonly args: unknown[]; readonly holes?: number[] }
  | { readonly herald: "reply"; readonly id: number; readonly value?: unknown; readonly error?: WireError };

/** The detail of the errors a call rejects with when the pipe closes, to tell them from the other side's errors. */
export const PIPE_CLOSED = "the pipe to the other process closed";

/** The pipe closed before a call was answered (`sent`), or before it could be sent. */
function pipeClosed(sent: boolean): HeraldError {
  return sent
    ? new HeraldError("engine_timeout", "the other process went away before it answered", { detail: PIPE_CLOSED })
    : new HeraldError("engine_unavailable", "the other process is gone", { detail: PIPE_CLOSED });
}

export class IpcPeer {
  private readonly handlers = new Map<string, Handler>();
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  private readonly closeListeners: Array<() => void> = [];
  private nextId = 1;
  private open = true;

  /** `onNoticeError` hears what a notice's handler threw: nobody waits for a notice's outcome. */
  constructor(
    private readonly port: IpcPort,
    private readonly onNoticeError: (error: unknown, method: string) => void = () => undefined,
  ) {
    port.onMessage((message) => this.receive(message));
    port.onClose(() => this.closed());
  }

  get connected(): boolean {
    return this.open;
  }

  /** Serves `method`: calls and notices by that name run `handler` with their arguments. */
  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  /** Runs `listener` once the pipe closes (at once when it already has). */
  onClose(listener: () => void): void {
    if (this.open) this.closeListeners.push(listener);
    else listener();
  }

  /** Calls `method` in the other process and resolves with its handler's result. */
  call(method: string, ...args: unknown[]): Promise<unknown> {
    if (!this.open) return Promise.reject(pipeClosed(false));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (!this.port.send({ herald: "call", id, method, ...packed(args) } satisfies Message)) {
        this.pending.delete(id);
        reject(pipeClosed(false));
      }
    });
  }

  /** Sends a notice: the other process runs `method`'s handler and answers nothing. False when the pipe is closed. */
  notify(method: string, ...args: unknown[]): boolean {
    return this.open && this.port.send({ herald: "notice", method, ...packed(args) } satisfies Message);
  }

  private receive(raw: unknown): void {
    if (typeof raw !== "object" || raw === null || !("herald" in raw)) return;
    const message = raw as Message;
    if (message.herald === "reply") {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(fromWire(message.error));
      else waiter.resolve(message.value);
      return;
    }
    const handler = this.handlers.get(message.method);
    const args = unpacked(message);
    if (message.herald === "notice") {
      try {
        const result = handler?.(...args);
        if (result instanceof Promise) result.catch((error: unknown) => this.onNoticeError(error, message.method));
      } catch (error) {
        this.onNoticeError(error, message.method);
      }
      return;
    }
    const answer = (reply: { value?: unknown; error?: WireError }): void => {
      this.port.send({ herald: "reply", id: message.id, ...reply } satisfies Message);
    };
    if (!handler) return answer({ error: { message: `no handler for ${message.method} in the other process` } });
    try {
      Promise.resolve(handler(...args)).then(
        (value) => answer({ value }),
        (error: unknown) => answer({ error: toWire(error) }),
      );
    } catch (error) {
      answer({ error: toWire(error) });
    }
  }

  private closed(): void {
    if (!this.open) return;
    this.open = false;
    for (const waiter of this.pending.values()) waiter.reject(pipeClosed(true));
    this.pending.clear();
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

/** The arguments with trailing undefined ones left off, and the positions of undefined ones before them. */
function packed(args: unknown[]): { args: unknown[]; holes?: number[] } {
  let length = args.length;
  while (length > 0 && args[length - 1] === undefined) length -= 1;
  const sent = length === args.length ? args : args.slice(0, length);
  const holes: number[] = [];
  for (let i = 0; i < sent.length; i++) if (sent[i] === undefined) holes.push(i);
  return holes.length === 0 ? { args: sent } : { args: sent, holes };
}

function unpacked(message: { args: unknown[]; holes?: number[] }): unknown[] {
  if (!message.holes) return message.args;
  const args = [...message.args];
  for (const index of message.holes) args[index] = undefined;
  return args;
}

function toWire(error: unknown): WireError {
  if (error instanceof HeraldError) return { code: error.code, message: error.message, ...(error.detail === undefined ? {} : { detail: error.detail }) };
  return { message: error instanceof Error ? error.message : String(error) };
}

/** A HeraldError stays one across the pipe, so its code still picks the HTTP status and close code. */
function fromWire(error: WireError): Error {
  if (error.code === undefined) return new Error(error.message);
  return new HeraldError(error.code as ErrorCode, error.message, error.detail === undefined ? {} : { detail: error.detail });
}
