/**
 * MessagePack for WebSocket connections that asked for it (`?format=msgpack`): frames encoded as
 * MessagePack maps, carrying exactly the JSON frame's fields. msgpackr is used for its speed on
 * the hot path (see docs/decisions.md); its own extensions are kept off so that any MessagePack
 * decoder reads what Herald writes: no records, `undefined` written as nil, objects with `toJSON`
 * (a Date in an embedder's data) written as JSON would write them.
 * In hub/ because PreparedEvent encodes each event once; the WebSocket transport decodes with it.
 */

import { Packr } from "msgpackr";
import type { EnvelopeName, EventFields } from "@herald/protocol";

// variableMapSize: a small map's header is one byte (fixmap) instead of three (map16), which
// counts on the wire for every event of every subscriber.
const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true, encodeUndefinedAsNil: true, useToJSON: true, int64AsType: "number" });

export function encodeMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

/**
 * Decodes one client frame. Throws when the bytes are not exactly one MessagePack value, or when
 * it holds what JSON cannot (binary, extension types, NaN or infinities): a frame must
 * mean the same to a JSON subscriber of what it publishes.
 */
export function decodeMsgpack(bytes: Buffer): unknown {
  const value: unknown = packr.unpack(bytes);
  const problem = nonJson(value, 0);
  if (problem) throw new Error(problem);
  return value;
}

/** Deep enough for any frame a client sends; deeper data is refused rather than walked without bound. */
const MAX_DEPTH = 64;

function nonJson(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${value} is not a number JSON can carry`;
    case "object": {
      if (value === null) return undefined;
      if (depth >= MAX_DEPTH) return `values nest deeper than ${MAX_DEPTH} levels`;
      if (Array.isArray(value)) {
        for (const item of value) {
          const problem = nonJson(item, depth + 1);
          if (problem) return problem;
        }
        return undefined;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return "binary data and extension types have no JSON form; send strings, numbers, booleans, nil, arrays and maps";
      for (const key in value) {
        const problem = nonJson((value as Record<string, unknown>)[key], depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return "binary data and extension types have no JSON form; send strings, numbers, booleans, nil, arrays and maps";
  }
}

/**
 * An event as an envelope's map, with the fields in the order of its JSON text (encodeEvent in
 * @herald/protocol): herald and event add `traceId` while tracing, flat and flat-ack never do.
 */
/** The JSON frame's optional tail, in its order: `tags` (events published with tags), then `traceId` (while tracing). */
function withOptional(frame: Record<string, unknown>, tags: EventFields["tags"], traceId: string | undefined): Record<string, unknown> {
  if (tags !== undefined) frame.tags = tags;
  if (traceId !== undefined) frame.traceId = traceId;
  return frame;
}

export function eventMap(fields: EventFields, data: unknown, envelope: EnvelopeName): Record<string, unknown> {
  const { type, channel, offset, epoch, timestamp, traceId, tags } = fields;
  switch (envelope) {
    case "herald":
      return withOptional({ type, channel, data, offset, epoch, timestamp }, tags, traceId);
    case "event":
      return withOptional({ event: type, channel, data, offset, epoch, timestamp }, tags, traceId);
    case "flat":
    case "flat-ack": {
      const position = envelope === "flat-ack" ? { channel, offset } : undefined;
      if (typeof data === "object" && data !== null && !Array.isArray(data)) return { type, ...(data as Record<string, unknown>), ...("type" in data ? { type } : {}), ...position };
      return { type, data, ...position };
    }
  }
}
