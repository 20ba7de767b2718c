/**
 * The one error type of the server. It carries a code from the protocol's registry, and from that
 * code alone come the HTTP status and the WebSocket close code a refusal is answered with, so that
 * every transport says the same thing about the same fault.
 *
 * `message` is what the client is told. When it would reveal what only the operator should see (a
 * Redis address, an upstream's reply), the details go in `detail`, which is logged and never sent.
 */

import { CloseCodes, ClosingErrorCodes, ErrorCodes, type ErrorCode } from "@herald/protocol";

export interface HeraldErrorOptions {
  readonly cause?: unknown;
  /** Operator-only details: logged, never sent to a client. */
  readonly detail?: string;
}

export class HeraldError extends Error {
  readonly detail: string | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: HeraldErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HeraldError";
    this.detail = options.detail;
  }

  /** The HTTP status this refusal is answered with. */
  get status(): number {
    return ErrorCodes[this.code].status;
  }

  /** The close code when this refusal ends a WebSocket connection. */
  get closeCode(): number {
    return closeCodeFor(this.code);
  }

  /** Any thrown value as the refusal a client sees: anything not a HeraldError is an internal fault. */
  static from(error: unknown): HeraldError {
    if (error instanceof HeraldError) return error;
    return new HeraldError("internal_error", "unexpected server error; it has been logged", { cause: error });
  }
}

/** Whether `error` is a HeraldError, of the given code when one is named. */
export function isHeraldError(error: unknown, code?: ErrorCode): error is HeraldError {
  return error instanceof HeraldError && (code === undefined || error.code === code);
}

/**
 * The close code for a fault that ends a WebSocket connection: "stop" codes for what the client
 * must fix (credentials, URL), "reconnect" codes for what passes (server faults, shutdown).
 */
function closeCodeFor(code: ErrorCode): number {
  switch (code) {
    case "unauthorized":
    case "token_expired":
      return CloseCodes.unauthorized.code;
    case "forbidden":
    case "origin_not_allowed":
      return CloseCodes.forbidden.code;
    case "too_many_connections":
    case "rate_limited":
    case "too_many_subscriptions":
      return CloseCodes.policy_violation.code;
    case "frame_too_large":
      return CloseCodes.message_too_big.code;
    case "shutting_down":
      return CloseCodes.going_away.code;
    case "engine_unavailable":
    case "engine_timeout":
    case "auth_backend_unavailable":
    case "internal_error":
      return CloseCodes.internal_error.code;
    case "disconnected":
    case "reconnect_requested":
      return ClosingErrorCodes[code].code;
    default:
      return CloseCodes.bad_request.code;
  }
}
