/**
 * A binary encoding of the WebSocket protocol the client can be given (`format` option): the
 * same frames, each one binary WebSocket message. It lives in its own entry
 * (`@herald/client/msgpack`) so that clients speaking JSON, the default, never ship it.
 *
 * The codec wraps the WebSocket implementation: the wrapper asks the server for the format in the
 * URL, encodes what the core sends and hands the core decoded frames (objects where JSON gives
 * strings). The core's WebSocket transport stays as it is but for taking a frame that is already
 * an object, which keeps the encoding out of the core bundle entirely.
 */

import type { WireFormat } from "@herald/protocol";
import type { WebSocketConstructor } from "./transports/transport.js";

export interface WireCodec {
  /** The format the server is asked for (`?format=`). */
  readonly format: Exclude<WireFormat, "json">;
  /** A WebSocket implementation speaking this format over `Impl`. */
  socket(Impl: WebSocketConstructor): WebSocketConstructor;
}
