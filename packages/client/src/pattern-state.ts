/**
 * A pattern subscription (`herald.subscribe("orders:*")`): one server subscription whose events
 * come from many channels, each with its own position. Handlers get every event with its real
 * `channel`; a reconnect sends every channel's position as `positions`, and each recovers as a
 * channel subscribed by name would (`recovery_failed` names the channel that could not). It also
 * sends the `time` of the last `subscribed` as `after`: the server then delivers the channels that
 * started matching while the client was away, from then on (their `recovery_failed`, when history
 * no longer held all of it, has `since` `{epoch: "", offset: 0}`: the client had nothing of them).
 *
 * Loaded on demand, so that apps which never subscribe to a pattern do not ship it: it turns the
 * channel state the client made at once into a pattern's.
 */

import type { EventFrame, SubscribedFrame } from "@herald/protocol";
import type { DeltaDecoder } from "./delta.js";
import { ChannelState } from "./subscription.js";

export function followPattern(state: ChannelState): void {
  const positions: NonNullable<ChannelState["positions"]> = {};
  state.positions = positions;
  // The syntax of channel-pattern.ts (`*` for any run, the rest literal; `.` and `+` are a
  // channel's only RegExp characters), written out so that the core bundle does not carry it.
  state.matcher = new RegExp(`^${state.channel.replace(/[.+]/g, "\\$&").replace(/\*/g, ".*")}$`, "s");
  // Deltas apply to the previous event of the same channel: each channel keeps its own base.
  let bases: Record<string, Uint8Array | undefined> = {};
  state.event = (frame: EventFrame, decode?: DeltaDecoder): boolean => {
    // The base class tracks one position and one delta base: lend it the channel's own.
    state.position = positions[frame.channel];
    state.deltaBase = bases[frame.channel];
    try {
      const fresh = ChannelState.prototype.event.call(state, frame, decode);
      if (state.position) positions[frame.channel] = state.position;
      bases[frame.channel] = state.deltaBase;
      return fresh;
    } finally {
      state.position = undefined;
      state.deltaBase = undefined;
    }
  };
  state.subscribed = (frame: SubscribedFrame): void => {
    for (const [channel, { epoch, offset, recovered }] of Object.entries(frame.channels ?? {})) {
      const since = positions[channel];
      if (recovered) continue;
      positions[channel] = { epoch, offset };
      state.emitter.emit("recovery_failed", { channel, since: since ?? { epoch: "", offset: 0 }, epoch, offset });
    }
    // Every channel published since this time is delivered on this subscription, or found through `after` on the next.
    if (frame.time) state.after = frame.time;
    state.sinceSent = undefined;
    // After every `subscribed` the server sends each channel whole before any delta.
    bases = {};
    ChannelState.prototype.subscribed.call(state, frame);
    state.position = undefined;
  };
}
