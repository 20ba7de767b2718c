/**
 * Which of several independent Redis shards holds a channel: jump consistent hash (Lamping and
 * Veach, 2014) of the channel name's 64-bit FNV-1a hash, the placement Centrifugo uses for its
 * Redis shards. It needs no table and spreads channels evenly. Placement depends on the number
 * of shards and their order: appending a shard moves about 1/(n+1) of the channels, each to the
 * new shard, and leaves the rest where they are; removing or reordering shards moves far more.
 */

const JUMP_MULTIPLIER = 2862933555777941757n;
const TWO_32 = 4294967296;

/**
 * FNV-1a, 64 bits, over the name's UTF-8 bytes, in two 32-bit halves: it runs on every publish,
 * and BigInt arithmetic per byte costs several times more.
 */
function fnv1a64(text: string): bigint {
  // Offset basis 0xcbf29ce484222325; prime 0x100000001b3 = 2^40 + 0x1b3.
  let high = 0xcbf29ce4;
  let low = 0x84222325;
  for (const byte of Buffer.from(text, "utf8")) {
    low = (low ^ byte) >>> 0;
    const lowProduct = low * 0x1b3;
    const carry = Math.floor(lowProduct / TWO_32);
    const shifted = (low << 8) >>> 0; // the low half times 2^40, landing in the high half
    high = (((high * 0x1b3 + carry) % TWO_32) + shifted) % TWO_32;
    low = lowProduct % TWO_32;
  }
  return (BigInt(high) << 32n) | BigInt(low);
}

/** A shard index in [0, shards) for the channel; shards must be at least 1. */
export function shardIndex(channel: string, shards: number): number {
  if (shards <= 1) return 0;
  let key = fnv1a64(channel);
  let chosen = -1;
  let next = 0;
  while (next < shards) {
    chosen = next;
    key = BigInt.asUintN(64, key * JUMP_MULTIPLIER + 1n);
    next = Math.floor((chosen + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return chosen;
}
