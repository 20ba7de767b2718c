/**
 * Applies a Fossil delta (format: https://fossil-scm.org/home/doc/tip/www/delta_format.wiki),
 * as the server makes them (any Fossil encoder's are the same format). Only the applying half lives in the client,
 * written here because it is a few hundred bytes where the package (both halves) is several KB.
 *
 * `delta` is the frame's `data` string, one character per delta byte (docs/protocol.md, "Delta
 * compression"); `source` is the UTF-8 of the previous event's data JSON. Throws on a delta that
 * does not reproduce its announced size and checksum.
 */

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";

export function applyDelta(source: Uint8Array, delta: string): Uint8Array {
  let pos = 0;
  const int = (): number => {
    let value = 0;
    let digit: number;
    while (pos < delta.length && (digit = DIGITS.indexOf(delta[pos]!)) >= 0) {
      value = value * 64 + digit;
      pos++;
    }
    return value;
  };
  const size = int();
  const out = new Uint8Array(size);
  let length = 0;
  if (delta[pos++] === "\n") {
    for (;;) {
      const count = int();
      const op = delta[pos++];
      if (op === "@") {
        const offset = int();
        pos++;
        out.set(source.subarray(offset, offset + count), length);
        length += count;
      } else if (op === ":") {
        for (let i = 0; i < count; i++) out[length++] = delta.charCodeAt(pos++);
      } else {
        // Fossil's checksum: the sum of the output read as big-endian 32-bit words, zero-padded.
        let sum = 0;
        for (let i = 0; i < size; i++) sum = (sum + (out[i]! << (24 - 8 * (i & 3)))) | 0;
        if (op === ";" && length === size && count === sum >>> 0) return out;
        break;
      }
    }
  }
  throw new Error("a delta did not apply");
}
