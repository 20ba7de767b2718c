/** Test support for delta encoders and decoders: a target made from pieces of the source and new bytes, as an edited document is. */
export function edited(source: Uint8Array, random: () => number): Uint8Array {
  const out: number[] = [];
  while (out.length < source.length * 1.2 && random() < 0.97) {
    if (source.length > 0 && random() < 0.7) {
      const start = Math.floor(random() * source.length);
      out.push(...source.subarray(start, start + Math.floor(random() * 64)));
    } else for (let n = Math.floor(random() * 8); n > 0; n--) out.push(Math.floor(random() * 256));
  }
  return Uint8Array.from(out);
}
