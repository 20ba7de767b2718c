/**
 * What the two HTTP transports (SSE and polling) share: they cannot send frames, they stop by
 * aborting their fetch, and they start from the positions the core holds per channel.
 */

import type { ClientFrame, Cursor } from "@herald/protocol";
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
    for (const { channel, since: position } of context.channels) if (position) since[channel] = position;
    await this.run(context, since);
  }
}
