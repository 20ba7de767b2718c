/** An event as the sinks' templates and bodies show it, shared by the email and webhook sinks. */

import type { StreamEvent } from "../engine/engine.js";
import { eventTimestamp } from "../hub/event-frame.js";

/** What templates see: `{channel}`, `{type}`, `{data.…}`, `{offset}`, `{epoch}`, `{timestamp}`. */
export interface EventContext {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  readonly offset: number;
  readonly epoch: string;
  readonly timestamp: string;
}

export function eventContext(event: StreamEvent): EventContext {
  return { channel: event.channel, type: event.type, data: event.data, offset: event.offset, epoch: event.epoch, timestamp: eventTimestamp(event) };
}
