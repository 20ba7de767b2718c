/**
 * A tab's side of the shared connection. To the tab's client it is a transport like the others:
 * the client sends its subscribe, unsubscribe and publish frames and gets the server's frames
 * back, now from the holder of the connection; the holder's connection state is mirrored.
 */

import type { ClientFrame } from "@herald/protocol";
import type { HeraldOptions, StateChange } from "../herald.js";
import type { IncomingFrame, Transport } from "../transports/transport.js";
import { randomId, type HostMessage, type PortableOptions, type TabMessage } from "./messages.js";

/** What the link drives in the tab's client. */
export interface TabSide {
  frame(frame: IncomingFrame): void;
  mirror(change: StateChange): void;
}

export class ShareLink implements Transport {
  readonly name = "websocket";
  readonly duplex = true;
  readonly id = randomId();
  private closed = false;

  constructor(
    private readonly options: HeraldOptions,
    private readonly tab: TabSide,
    /** Where the tab's messages go (the worker's port, or the leader). */
    public toHost: (message: TabMessage) => void,
    private readonly onClose: () => void = () => {},
  ) {}

  /** Attaches to the holder (again, when a new one took over). */
  hello(page: string): void {
    if (this.closed) return;
    this.toHost({ t: "hello", tab: this.id, page, getToken: this.options.getToken !== undefined, options: portable(this.options) });
  }

  send(frame: ClientFrame): void {
    if (this.closed || (frame.type !== "subscribe" && frame.type !== "unsubscribe" && frame.type !== "publish")) return;
    // The holder's connection carries its own token.
    const { token: _token, ...plain } = frame as ClientFrame & { token?: string };
    this.toHost({ t: "frame", tab: this.id, frame: plain as ClientFrame });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.toHost({ t: "bye", tab: this.id });
    this.onClose();
  }

  deliver(message: HostMessage): void {
    if (this.closed) return;
    if (message.t === "state") this.tab.mirror(message.change);
    else if (message.t === "frame") this.tab.frame(message.frame);
    else void this.answerToken(message.id);
  }

  private async answerToken(id: number): Promise<void> {
    try {
      const token = this.options.getToken ? await this.options.getToken() : this.options.token;
      this.toHost(token === undefined ? { t: "token", tab: this.id, id, error: "no token" } : { t: "token", tab: this.id, id, token });
    } catch (error) {
      this.toHost({ t: "token", tab: this.id, id, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** The options a worker can receive: functions and objects such as a URL stay behind. */
function portable(options: HeraldOptions): PortableOptions {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (typeof value !== "function" && key !== "shareWorker") plain[key] = value;
  plain.url = String(options.url);
  return plain as unknown as PortableOptions;
}
