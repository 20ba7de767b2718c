/**
 * ws's WebSocket with a field for the session it carries. The transport's listeners are shared by
 * every connection (a closure per connection costs a few hundred bytes), so each finds its session
 * from the socket: a field costs the socket 8 bytes, where a WeakMap entry cost about 44.
 */

import { WebSocket } from "ws";
import type { WebSocketSession } from "./websocket-session.js";

export class SessionSocket extends WebSocket {
  session: WebSocketSession | undefined = undefined;
}
