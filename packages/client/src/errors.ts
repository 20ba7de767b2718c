/**
 * Errors the client raises. `code` is a stable word: the server's error code (see
 * `ErrorCodes` in @herald/protocol) when the server refused something, or one of the client's own:
 * - `not_connected`: the request needs a live connection and there is none;
 * - `publish_needs_websocket`: client publish travels as a WebSocket frame; SSE and polling cannot carry it;
 * - `disconnected`: the connection closed before the answer came;
 * - `http_error`: an HTTP call failed without a Herald error body (network, proxy);
 * - `filter_conflict`: `subscribe(channel, { filter })` while the channel is held with another filter.
 */
export class HeraldError extends Error {
  override readonly name = "HeraldError";

  constructor(
    readonly code: string,
    message: string,
    /** HTTP status, when the error came from an HTTP call. */
    readonly status?: number,
  ) {
    super(message);
  }
}
