/**
 * The Fossil delta from one event's data to the next event's of the same channel, for
 * subscribers granted `delta: "fossil"` (docs/protocol.md, "Delta compression").
 *
 * The delta is computed over the UTF-8 bytes of the two data JSON texts, exactly as the fan-out
 * writes them (JSON.stringify of the data), and travels in the frame's `data` as a JSON string
 * holding one character per delta byte (U+0000 to U+00FF, Latin-1). A Fossil delta copies
 * literal runs of the target's bytes, which may cut a multi-byte UTF-8 character in two, so it
 * cannot be sent as UTF-8 text itself; one character per byte keeps it byte-exact, and costs
 * nothing for the ASCII that JSON data mostly is.
 */

import { fossilDeltaOfTexts } from "./fossil-encoder.js";

/**
 * An event's data JSON text, at its position: what the channel's next event is a delta from. Kept
 * as the string the fan-out made anyway, not as bytes: a buffer per event held until the channel's
 * next one is garbage the collector has to move to its old space first.
 */
export interface DeltaSource {
  readonly epoch: string;
  readonly offset: number;
  readonly data: string;
}

export class EventDelta {
  /** The delta frame's `data` JSON, `null` when it is not smaller than the full data; undefined until asked. */
  private json: string | null | undefined;

  constructor(
    private readonly previous: string,
    private readonly current: string,
  ) {}

  /** The delta as the `data` JSON of a delta frame, computed once, or undefined when it would not save bytes. */
  dataJson(): string | undefined {
    if (this.json === undefined) {
      const json = JSON.stringify(fossilDeltaOfTexts(this.previous, this.current));
      this.json = Buffer.byteLength(json) < Buffer.byteLength(this.current) ? json : null;
    }
    return this.json ?? undefined;
  }
}
