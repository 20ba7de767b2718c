/**
 * What the two HTTP transports (SSE and polling) share: they cannot send frames, they stop by
 * aborting their fetch, and they start from the positions the core holds per channel.
 */

import { closeCodeOfError, isRetryable, type ClientFrame, type Cursor } from "@herald/protocol";
import type { Transport, TransportCallbacks, TransportContext } from "./transport.js";

export abstract class HttpTransport implements Transport {
  abstract readonly name: Transport["name"];
  readonly duplex = false;
  protected readonly abort = new AbortController();
  protected done = false;

  constructor(context: TransportContext, protected readonly callbacks: TransportCallbacks) {
    void this.start(context);
  }

  send(_frame: ClientFrame): void {}

  close(): void {
    this.done = true;
    this.abort.abort();
  }

  /**
   * A request the server refused (HTTP error). When its `{"error":{"code"}}` ends the connection
   * (`disconnected`, `reconnect_requested`: the server API's disconnect), the core gets that error
   * frame and acts as on its close code. When it is retryable (`engine_unavailable`, ...), every
   * channel of the request was refused for a passing reason: each gets an `error` frame naming it,
   * so the core shows why it is still subscribing while it reconnects. Returns a description for
   * the close reason.
   */
  protected async refusal(context: TransportContext, response: Response): Promise<string> {
    const body = (await response.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
    const code = typeof body?.error?.code === "string" ? body.error.code : undefined;
    const message = typeof body?.error?.message === "string" ? body.error.message : `HTTP ${response.status}`;
    if (code !== undefined && closeCodeOfError(code) !== undefined && !this.done) {
      this.callbacks.frame({ type: "error", code, message });
    } else if (code !== undefined && isRetryable(code) && !this.done) {
      for (const { channel } of context.channels) this.callbacks.frame({ type: "error", channel, code, message });
    }
    return `HTTP ${response.status}${code ? ` ${code}` : ""}: ${message}`;
  }

  /** Runs the transport from `since`: the known position of every channel that has one. */
  protected abstract run(context: TransportContext, since: Cursor): Promise<void>;

  private async start(context: TransportContext): Promise<void> {
    // Never call back from inside the constructor: the core has not stored this transport yet.
    await Promise.resolve();
    if (context.channels.length === 0) {
      // Both endpoints need a channel; with none there is nothing to stream until one is added.
      this.callbacks.open();
      this.callbacks.frame({ type: "connected", connectionId: "", node: "", pingInterval: 0 });
      return;
    }
    const since: Cursor = {};
    for (const { channel, since: position, positions, after } of context.channels) {
      if (position) since[channel] = position;
      Object.assign(since, positions);
      // The server's cursors hold a pattern's time under its own name, as epoch "" and the time in ms.
      if (after !== undefined) since[channel] = { epoch: "", offset: Date.parse(after) };
    }
    await this.run(context, since);
  }
}
