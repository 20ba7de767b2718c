/**
 * The single registry of Herald's error codes and WebSocket close codes.
 *
 * Error codes are stable snake_case words carried by `error` frames and by HTTP error bodies
 * (`{"error":{"code","message"}}`). A code is never reused for another meaning once released.
 * `docs/protocol.md` lists every entry; a test fails when the two disagree.
 */

export interface ErrorCodeInfo {
  /** HTTP status used when the error is answered over HTTP. */
  readonly status: number;
  /** One line a developer reads in the docs. */
  readonly description: string;
}

export const ErrorCodes = {
  invalid_json: { status: 400, description: "The frame or body is not valid JSON." },
  invalid_msgpack: { status: 400, description: "A binary frame on a MessagePack connection is not one valid MessagePack value (or holds extension types); send one map per frame." },
  invalid_frame: { status: 400, description: "A field is missing or has the wrong type; the message names it." },
  unknown_type: { status: 400, description: "The frame's `type` is not one the client may send." },
  invalid_channel: { status: 400, description: "The channel name is empty, too long or has characters outside the allowed set." },
  invalid_event_type: { status: 400, description: "The event type is empty, too long or has characters outside the allowed set." },
  reserved_event_type: { status: 400, description: "The event type equals a control frame type (connected, subscribed, ping, ...)." },
  invalid_since: { status: 400, description: "`since` (or a pattern subscribe's `positions` or `after`) is malformed or names an offset the stream has not reached yet." },
  invalid_cursor: { status: 400, description: "The polling cursor or Last-Event-ID cannot be decoded." },
  invalid_param: { status: 400, description: "A URL or query parameter does not match the pattern its route requires." },
  invalid_body: { status: 400, description: "The HTTP body does not have the documented shape; the message says which field." },
  malformed_request: { status: 400, description: "The request is not valid HTTP (a bad header, line or encoding); Node refused it before any route." },
  unsupported_http_version: { status: 400, description: "A WebSocket upgrade must be an HTTP/1.1 (or later) request (RFC 6455); refused before the upgrade." },
  unsupported_delta: { status: 400, description: "The subscribe asked for a delta format Herald does not know; the only one is `\"fossil\"` (or leave `delta` out for full events)." },
  invalid_tags: { status: 400, description: "A publish's `tags` is not an object of string values within the limits (32 tags, keys of 1-64 letters, digits and _ - . : / @ +, values of at most 256 characters); the message says which." },
  invalid_filter: { status: 400, description: "A subscribe's `filter` is not a valid tag filter or passes its limits; the message says what was expected and at which position." },
  receipts_off: { status: 400, description: "The channel's namespace keeps no receipts; set `receipts: true` on it to acknowledge events and read `GET /api/receipts`." },
  pattern_too_broad: { status: 400, description: "A pattern subscription must write its namespace out before any `*` (`orders:*`, not `*` or `ord*`)." },
  patterns_unsupported: { status: 400, description: "This hub's engine cannot deliver pattern subscriptions (the Redis engine with sharded pub/sub or on a Redis Cluster); subscribe to channels by name." },
  already_subscribed: { status: 409, description: "The connection is already subscribed to this channel (the first `subscribe` for a channel its route subscribed it to is not refused: it takes the route's subscription over, see [configuration.md](configuration.md#routes))." },
  not_subscribed: { status: 409, description: "Unsubscribe from a channel this connection is not subscribed to." },
  unauthorized: { status: 401, description: "No valid credentials: a missing or wrong API key or token." },
  token_expired: { status: 401, description: "The token has expired; fetch a new one and send an `auth` frame." },
  invalid_signature: { status: 401, description: "The HMAC signature of a publish request is missing, malformed or wrong, or names an unknown key id." },
  stale_request: { status: 401, description: "A signed request's X-Herald-Timestamp is outside the replay window (`publish.replayWindow`); sign it again with the current time." },
  replayed_request: { status: 401, description: "This exact signed request was already accepted; sign a new one (send an Idempotency-Key to retry safely)." },
  forbidden: { status: 403, description: "Valid credentials, but not allowed to do this." },
  origin_not_allowed: { status: 403, description: "The browser Origin is not in `security.allowedOrigins`; refused before the WebSocket or SSE stream opens." },
  publish_forbidden: { status: 403, description: "This channel's namespace does not let clients publish." },
  not_found: { status: 404, description: "No such route or resource." },
  frame_too_large: { status: 413, description: "A WebSocket frame is larger than `maxPayload`." },
  payload_too_large: { status: 413, description: "The HTTP body is larger than `publish.maxBodyBytes`." },
  request_timeout: { status: 408, description: "The whole request did not arrive within `limits.requestTimeout`." },
  unsupported_media_type: { status: 415, description: "The HTTP body must be `application/json`." },
  headers_too_large: { status: 431, description: "The request's headers are larger than Node accepts (16 KiB by default); refused before any route." },
  pattern_channel_limit: { status: 429, description: "A pattern subscription reached `maxPatternChannels` matched channels: further channels are not delivered to it (or its `positions` list more)." },
  too_many_subscriptions: { status: 429, description: "The connection holds the maximum number of subscriptions." },
  presence_full: { status: 403, description: "The presence channel holds its maximum number of members (a Pusher app's `maxPresenceMembers`)." },
  rate_limited: { status: 429, description: "Too many requests or frames; slow down and retry later." },
  too_many_connections: { status: 429, description: "The node or this IP holds the maximum number of connections, or opens them too fast; retry with backoff." },
  engine_unavailable: { status: 503, description: "The engine (e.g. Redis) cannot be reached; nothing was accepted." },
  auth_backend_unavailable: { status: 503, description: "The app's backend that Herald asks about connections or subscriptions (auth.proxy) did not answer in time or failed; retry shortly." },
  engine_timeout: { status: 504, description: "The engine lost the connection or the answer after the publish was sent: it may or may not be stored. Retry with the same Idempotency-Key; without one a retry may store it twice." },
  shutting_down: { status: 503, description: "The node is shutting down; retry on another node." },
  disconnected: { status: 410, description: "The backend ended this user's connections (server API `disconnect`); do not reconnect until the application says so. SSE streams and long-polls end with it." },
  reconnect_requested: { status: 503, description: "The backend asked this user's connections to reconnect (server API `disconnect` with `reconnect: true`); reconnect with backoff and resume with `since`. SSE streams and long-polls end with it." },
  dashboard_not_built: { status: 503, description: "The dashboard's static files are missing; run `npm run build` (or set HERALD_DASHBOARD_DIR)." },
  internal_error: { status: 500, description: "An unexpected server fault; it is logged with the request id." },
  invalid_config: { status: 500, description: "The configuration is not valid: the hub refuses to start (exit 1) and the message names the setting and where it came from." },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ErrorCodes, value);
}

/**
 * Codes that refuse a request for a passing reason: the same request, sent again later with
 * backoff, can succeed. Clients retry a refused subscribe with one of these until it succeeds or
 * the server answers with a code not in this list (which is final: the app must act).
 */
export const RetryableErrorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["engine_unavailable", "engine_timeout", "shutting_down", "rate_limited", "too_many_connections", "auth_backend_unavailable", "reconnect_requested"]);

/** Whether a refusal with this code is worth retrying with backoff (see RetryableErrorCodes). */
export function isRetryable(code: string): boolean {
  return RetryableErrorCodes.has(code as ErrorCode);
}

/** What a client should do after the server closed its connection with a given code. */
export type CloseAction = "reconnect" | "stop";

export interface CloseCodeInfo {
  readonly code: number;
  readonly action: CloseAction;
  readonly description: string;
}

// The numbers of the close codes that errors stand for (see ClosingErrorCodes), apart from the
// registry's prose: closeCodeOfError reads these alone, so a client bundle that uses it carries
// no description (ClosingErrorCodes is built in a pure call, which a bundler drops when unused).
const DISCONNECTED = 4510;
const RECONNECT_REQUESTED = 4010;

/**
 * Close codes the server sends. Custom codes follow the convention Centrifugo uses for its
 * 4000-4999 range: 4000-4499 mean "the problem is temporary, reconnect with backoff",
 * 4500-4999 mean "reconnecting cannot help, stop and tell the user".
 */
export const CloseCodes = {
  normal: { code: 1000, action: "stop", description: "Normal closure asked for by the client." },
  going_away: { code: 1001, action: "reconnect", description: "The server is shutting down or restarting; reconnect (to another node)." },
  policy_violation: { code: 1008, action: "reconnect", description: "A limit was broken (too many frames, connections or subscriptions); back off and reconnect." },
  message_too_big: { code: 1009, action: "reconnect", description: "The client sent a frame larger than `maxPayload`." },
  internal_error: { code: 1011, action: "reconnect", description: "An unexpected server fault." },
  ping_timeout: { code: 4000, action: "reconnect", description: "No pong (or any frame) came back within the ping timeout." },
  idle_timeout: { code: 4001, action: "reconnect", description: "The connection neither subscribed nor authenticated within `idleTimeout`." },
  slow_consumer: { code: 4008, action: "reconnect", description: "The connection's send queue passed `sendQueueBytes`; reconnect and recover with `since`." },
  resync: { code: 4009, action: "reconnect", description: "Events of a subscribed channel were lost on this node (its engine was unreachable longer than history keeps them); reconnect and recover with `since`." },
  reconnect_requested: { code: RECONNECT_REQUESTED, action: "reconnect", description: "The backend asked this connection to reconnect (server API `disconnect` with `reconnect: true`), e.g. after changing the user's rights; reconnect with backoff and recover with `since`." },
  bad_request: { code: 4500, action: "stop", description: "The connection URL is not valid (e.g. a route parameter failed its pattern); the reason says which." },
  unauthorized: { code: 4501, action: "stop", description: "Authentication failed; get valid credentials before reconnecting." },
  forbidden: { code: 4503, action: "stop", description: "The credentials are valid but this connection is not allowed." },
  disconnected: { code: DISCONNECTED, action: "stop", description: "The backend disconnected this user (server API `disconnect`), e.g. at sign-out or a ban; do not reconnect until the application says so." },
} as const satisfies Record<string, CloseCodeInfo>;

export type CloseCodeName = keyof typeof CloseCodes;

/** Decides from a close code alone whether a client should reconnect. */
export function closeAction(code: number): CloseAction {
  if (code === 1000) return "stop";
  if (code >= 4500 && code <= 4999) return "stop";
  return "reconnect";
}

/**
 * Error codes that end the connection they arrive on, with the close code each stands for. A
 * WebSocket gets the error frame and then that close code; SSE streams and long-polls have no close
 * code, so they end with an `error` record or answer carrying one of these, and a client acts on
 * it as it would on the close code (stop, or reconnect with backoff).
 */
export const ClosingErrorCodes = /* @__PURE__ */ (() =>
  ({
    disconnected: CloseCodes.disconnected,
    reconnect_requested: CloseCodes.reconnect_requested,
  }) as const satisfies Partial<Record<ErrorCode, CloseCodeInfo>>)();

/** The close code an error code stands for when it ends a connection (see ClosingErrorCodes), else undefined. */
export function closeCodeOfError(code: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(CLOSE_CODE_OF_ERROR, code) ? CLOSE_CODE_OF_ERROR[code as keyof typeof ClosingErrorCodes] : undefined;
}

const CLOSE_CODE_OF_ERROR: { readonly [K in keyof typeof ClosingErrorCodes]: (typeof ClosingErrorCodes)[K]["code"] } = { disconnected: DISCONNECTED, reconnect_requested: RECONNECT_REQUESTED };
