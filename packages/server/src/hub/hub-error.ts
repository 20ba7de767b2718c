import type { ErrorCode } from "@herald/protocol";
import { EngineTimeoutError, EngineUnavailableError } from "../engine/engine.js";

/** A refused request: carries the protocol error code that transports send to the client. */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "HubError";
  }
}

/** The code and message to show a client for any error a request ended in. */
export function errorFrameFields(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof HubError) return { code: error.code, message: error.message };
  if (error instanceof EngineUnavailableError) return { code: "engine_unavailable", message: "the engine is unavailable; retry shortly" };
  if (error instanceof EngineTimeoutError) return { code: "engine_timeout", message: "the engine did not confirm the publish; it may or may not be stored" };
  return { code: "internal_error", message: "unexpected server error; it has been logged" };
}
