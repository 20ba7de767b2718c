/**
 * Envelopes: how an event is written as a frame. `herald` is protocol v1's own shape; `event`
 * and `flat` exist so that clients written for an existing system keep working unchanged
 * (frames keyed `event`, or the data's fields at the top level next to `type`).
 *
 *   herald  {"type":"balance_update","channel":"user:7","data":{…},"offset":3,"epoch":"x1","timestamp":"…"}
 *   event   {"event":"balance_update","channel":"user:7","data":{…},"offset":3,"epoch":"x1","timestamp":"…"}
 *   flat    {"type":"snapshot_update","snapshot_id":"…","hash":"…"}   (data that is not an object: {"type","data"})
 *   flat-ack  flat, then "channel" and "offset": what an `ack` frame names, for a flat client that
 *           acknowledges (receipts) and otherwise keeps its shape
 *
 * While the server traces, `herald` and `event` end with `"traceId":"<32 hex>"`; `flat` and
 * `flat-ack` never carry it, since there the data's own fields share the top level. The same holds
 * for `"tags":{…}` (before `traceId`), present only on events published with tags.
 */

import type { EventTags } from "./tag-filter.js";

export type EnvelopeName = "herald" | "event" | "flat" | "flat-ack";

export const ENVELOPES: readonly EnvelopeName[] = ["herald", "event", "flat", "flat-ack"];

export interface EventFields {
  readonly type: string;
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  /** ISO-8601. */
  readonly timestamp: string;
  /** The event's trace id, only while the server traces (EventFrame.traceId). */
  readonly traceId?: string | undefined;
  /** The event's tags, only when it was published with some (EventFrame.tags). */
  readonly tags?: EventTags | undefined;
}

/**
 * Encodes one event. `dataJson` is the data already serialised, so a fan-out serialises the data
 * once however many envelopes and subscribers it serves.
 */
export function encodeEvent(fields: EventFields, data: unknown, dataJson: string, envelope: EnvelopeName): string {
  // With tracing off traceId is absent: the frame is byte for byte what it was without tracing.
  // Likewise an event published without tags has no `tags` key.
  const tagged = fields.tags === undefined ? "" : `,"tags":${JSON.stringify(fields.tags)}`;
  const tail = fields.traceId === undefined ? `${tagged}}` : `${tagged},"traceId":${JSON.stringify(fields.traceId)}}`;
  const meta = `,"channel":${JSON.stringify(fields.channel)},"data":${dataJson},"offset":${fields.offset},"epoch":${JSON.stringify(fields.epoch)},"timestamp":"${fields.timestamp}"${tail}`;
  switch (envelope) {
    case "herald":
      return `{"type":${JSON.stringify(fields.type)}${meta}`;
    case "event":
      return `{"event":${JSON.stringify(fields.type)}${meta}`;
    case "flat":
      return flat(fields.type, data, dataJson);
    case "flat-ack":
      // Herald's channel and offset replace data fields of those names, as `type` does: an
      // acknowledgement must name the real position.
      return flat(fields.type, data, dataJson, { channel: fields.channel, offset: fields.offset });
  }
}

/** The data's fields next to `type`, which wins over a data field of that name, as do the `position` fields. */
function flat(type: string, data: unknown, dataJson: string, position?: { channel: string; offset: number }): string {
  if (typeof data === "object" && data !== null && !Array.isArray(data)) {
    return JSON.stringify({ type, ...(data as Record<string, unknown>), ...("type" in data ? { type } : {}), ...position });
  }
  const text = `{"type":${JSON.stringify(type)},"data":${dataJson}}`;
  return position ? `${text.slice(0, -1)},"channel":${JSON.stringify(position.channel)},"offset":${position.offset}}` : text;
}
