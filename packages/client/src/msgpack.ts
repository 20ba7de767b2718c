/**
 * `@herald/client/msgpack`: the MessagePack encoding of Herald's WebSocket protocol, for
 * `new Herald({ url, format: msgpack })`. Frames carry the same fields as JSON, in binary
 * WebSocket messages, and are usually smaller (see docs/protocol.md, "Binary encoding").
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import type { WebSocketConstructor, WebSocketLike } from "./transports/transport.js";
import type { WireCodec } from "./wire-codec.js";

// A field left undefined is left out, as JSON.stringify leaves it out (nil would be a value).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

type Handler = ((event: never) => void) | null;

function msgpackSocket(Impl: WebSocketConstructor): WebSocketConstructor {
  return class MsgpackWebSocket implements WebSocketLike {
    onopen: Handler = null;
    onmessage: Handler = null;
    onclose: Handler = null;
    onerror: Handler = null;
    private readonly inner: WebSocketLike;

    constructor(url: string) {
      const withFormat = new URL(url);
      withFormat.searchParams.set("format", "msgpack");
      const inner = (this.inner = new Impl(withFormat.toString()));
      // Browsers hand binary messages over as Blobs unless told otherwise, and a Blob is read asynchronously.
      inner.binaryType = "arraybuffer";
      inner.onopen = (event) => this.call(this.onopen, event);
      inner.onerror = (event) => this.call(this.onerror, event);
      inner.onclose = (event) => this.call(this.onclose, event);
      inner.onmessage = (event) => {
        // The server sends nothing but binary frames on a MessagePack connection.
        if (typeof event.data === "string") return;
        let frame: unknown;
        try {
          frame = decoder.decode(event.data as ArrayBuffer | Uint8Array);
        } catch {
          return;
        }
        this.call(this.onmessage, { data: frame });
      };
    }

    get readyState(): number {
      return this.inner.readyState;
    }

    /**
     * The core writes JSON text; it is read back and encoded here. Clients send few frames
     * (subscribe, ack, ping), so this costs far less than a second encoder in the core bundle.
     */
    send(data: string | Uint8Array): void {
      this.inner.send(typeof data === "string" ? encoder.encode(JSON.parse(data)) : data);
    }

    close(code?: number, reason?: string): void {
      this.inner.close(code, reason);
    }

    private call(handler: Handler, event: unknown): void {
      (handler as ((event: unknown) => void) | null)?.(event);
    }
  };
}

export const msgpack: WireCodec = { format: "msgpack", socket: msgpackSocket };

export type { WireCodec } from "./wire-codec.js";
