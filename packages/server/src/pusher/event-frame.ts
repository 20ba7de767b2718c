/**
 * A Herald event as a Pusher event frame, encoded once per event however many Pusher connections
 * receive it (as PreparedEvent does for Herald's envelopes). A Herald channel belongs to one app
 * and maps to one Pusher name, so the frame is the same for every Pusher subscriber.
 */

import type { PreparedEvent } from "../hub/prepared-event.js";
import { encodeTextFrame } from "../hub/websocket-frame.js";
import { eventFrame } from "./frames.js";
import { pusherData, pusherEventName } from "./event-mapping.js";

interface Encoded {
  readonly payload: Buffer;
  frame?: Buffer;
}

const encoded = new WeakMap<PreparedEvent, Encoded>();

function encode(prepared: PreparedEvent, pusherChannel: string): Encoded {
  let entry = encoded.get(prepared);
  if (!entry) {
    const { type, data, sender } = prepared.event;
    // A client event on a presence channel names its sender's user, as Pusher does.
    const userId = type.startsWith("client-") ? sender?.user : undefined;
    entry = { payload: Buffer.from(eventFrame(pusherEventName(type), pusherChannel, pusherData(data), userId)) };
    encoded.set(prepared, entry);
  }
  return entry;
}

export function pusherEventPayload(prepared: PreparedEvent, pusherChannel: string): Buffer {
  return encode(prepared, pusherChannel).payload;
}

export function pusherEventWebSocketFrame(prepared: PreparedEvent, pusherChannel: string): Buffer {
  const entry = encode(prepared, pusherChannel);
  return (entry.frame ??= encodeTextFrame(entry.payload));
}
