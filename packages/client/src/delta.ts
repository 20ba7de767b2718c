/**
 * Keeps a channel's events whole when the server sends deltas (docs/protocol.md, "Delta
 * compression"). Loaded on demand, before the first connection, by clients that ask for deltas.
 */

import type { EventFrame } from "@herald/protocol";
import { applyDelta } from "./fossil.js";

/**
 * Makes a delta frame's `data` whole from `base`, the UTF-8 of the previous event's data JSON,
 * and returns this event's, the base of the next delta. Throws when the delta does not apply.
 */
export function decodeDelta(base: Uint8Array | undefined, frame: EventFrame): Uint8Array {
  if (!frame.delta) return new TextEncoder().encode(JSON.stringify(frame.data));
  if (!base) throw new Error("a delta without its base");
  const bytes = applyDelta(base, frame.data as string);
  frame.data = JSON.parse(new TextDecoder().decode(bytes));
  delete frame.delta;
  return bytes;
}

export type DeltaDecoder = typeof decodeDelta;
