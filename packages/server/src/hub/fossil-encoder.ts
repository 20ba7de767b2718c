/**
 * Makes a Fossil delta (format: https://fossil-scm.org/home/doc/tip/www/delta_format.wiki) from
 * one event's data bytes to the next one's. Any Fossil decoder applies it: `@herald/client`'s
 * (packages/client/src/fossil.ts), the `fossil-delta` package's, Fossil's own.
 *
 * Why not the `fossil-delta` package's encoder: it builds the delta in a JavaScript array of
 * numbers, one push per byte, and indexes the source in untyped arrays; with one subscriber per
 * channel its cost was most of delta compression's extra CPU per delivery (docs/decisions.md,
 * docs/performance.md). The method is the format's usual one: the source is indexed by a hash of
 * each aligned 16-byte block, the target is scanned with a rolling hash of the same width, and a
 * block found in both is grown forwards and backwards into a copy; the bytes between copies are
 * inserted as they are.
 */

/** Bytes per indexed source block and width of the rolling hash. */
const WINDOW = 16;
/** Source blocks tried per target position, so a source of repeated blocks cannot make it quadratic. */
const CANDIDATES = 64;
const DIGITS = Buffer.from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~", "latin1");

/**
 * The delta from the UTF-8 bytes of one text to the next's, one character per delta byte. The
 * texts are written into buffers kept from one delta to the next, so the caller holds strings
 * and no bytes are allocated per event.
 */
export function fossilDeltaOfTexts(source: string, target: string): string {
  const sourceLength = sourceText.put(source);
  const targetLength = targetText.put(target);
  return fossilDeltaLatin1(sourceText.bytes.subarray(0, sourceLength), targetText.bytes.subarray(0, targetLength));
}

/**
 * The delta turning `source` into `target`, one character per delta byte (U+0000 to U+00FF), as
 * the delta frame carries it (event-delta.ts).
 */
export function fossilDeltaLatin1(source: Uint8Array, target: Uint8Array): string {
  const out = writer;
  out.reset();
  out.int(target.length);
  out.byte(0x0a);
  if (source.length <= WINDOW) {
    out.insert(target, 0, target.length);
  } else {
    sourceIndex.index(source);
    scan(sourceIndex, source, target, out);
  }
  out.int(checksum(target));
  out.byte(0x3b);
  return out.latin1();
}

function scan(index: SourceIndex, source: Uint8Array, target: Uint8Array, out: DeltaWriter): void {
  let base = 0; // first target byte not yet in the delta
  while (base + WINDOW < target.length) {
    let i = base; // the rolling window is target[i, i + WINDOW)
    let a = 0;
    let b = 0;
    for (let k = 0; k < WINDOW; k++) {
      const x = target[i + k]!;
      a = (a + x) & 0xffff;
      b = (b + (WINDOW - k) * x) & 0xffff;
    }
    let found = false;
    for (;;) {
      let bestCount = 0;
      let bestSource = 0;
      let bestTarget = 0;
      let tries = CANDIDATES;
      for (let block = index.first(a, b); block >= 0 && tries-- > 0; block = index.next[block]!) {
        const s = block * WINDOW;
        // Grow the match forwards from the window, then backwards, never before `base`.
        let forward = 0;
        while (s + forward < source.length && i + forward < target.length && source[s + forward] === target[i + forward]) forward++;
        if (forward < WINDOW) continue;
        let backward = 0;
        while (backward < s && i - backward > base && source[s - backward - 1] === target[i - backward - 1]) backward++;
        const count = forward + backward;
        if (count > bestCount) {
          bestCount = count;
          bestSource = s - backward;
          bestTarget = i - backward;
        }
      }
      // A copy is worth it only when it is longer than the command that says it.
      if (bestCount > digitCount(bestCount) + digitCount(bestSource) + 2) {
        if (bestTarget > base) out.insert(target, base, bestTarget);
        out.copy(bestCount, bestSource);
        base = bestTarget + bestCount;
        found = true;
        break;
      }
      if (i + WINDOW >= target.length) break;
      // Roll the window one byte on.
      const old = target[i]!;
      const x = target[i + WINDOW]!;
      a = (a - old + x) & 0xffff;
      b = (b - WINDOW * old + a) & 0xffff;
      i++;
    }
    if (!found) break;
  }
  if (base < target.length) out.insert(target, base, target.length);
}

/**
 * The source's aligned blocks by hash: `first` the latest block of a hash, `next` the one before
 * it. Its arrays are kept from one delta to the next and only grown: a delta is made
 * synchronously, one at a time, and garbage per event is what the fan-out can least afford.
 */
class SourceIndex {
  private heads = new Int32Array(256);
  next = new Int32Array(128);
  private mask = 0;

  index(source: Uint8Array): void {
    const blocks = Math.floor(source.length / WINDOW);
    let size = 64;
    while (size < blocks * 2) size *= 2;
    if (size > this.heads.length) this.heads = new Int32Array(size);
    if (blocks > this.next.length) this.next = new Int32Array(blocks * 2);
    this.mask = size - 1;
    this.heads.fill(-1, 0, size);
    for (let block = 0; block < blocks; block++) {
      let a = 0;
      let b = 0;
      const start = block * WINDOW;
      for (let k = 0; k < WINDOW; k++) {
        const x = source[start + k]!;
        a = (a + x) & 0xffff;
        b = (b + (WINDOW - k) * x) & 0xffff;
      }
      const slot = this.slot(a, b);
      this.next[block] = this.heads[slot]!;
      this.heads[slot] = block;
    }
  }

  first(a: number, b: number): number {
    return this.heads[this.slot(a, b)]!;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a | (b << 16), 0x9e3779b1) >>> 16) & this.mask;
  }
}

/** The delta's bytes, in one buffer kept from one delta to the next (see SourceIndex) and grown as needed. */
class DeltaWriter {
  private bytes = Buffer.allocUnsafe(4096);
  length = 0;

  reset(): void {
    this.length = 0;
  }

  byte(value: number): void {
    this.room(1);
    this.bytes[this.length++] = value;
  }

  /** A number in Fossil's base-64 digits, most significant first. */
  int(value: number): void {
    const count = digitCount(value);
    this.room(count);
    for (let k = count - 1; k >= 0; k--) {
      this.bytes[this.length + k] = DIGITS[value & 0x3f]!;
      value = Math.floor(value / 64);
    }
    this.length += count;
  }

  insert(target: Uint8Array, from: number, to: number): void {
    this.int(to - from);
    this.byte(0x3a);
    this.room(to - from);
    this.bytes.set(target.subarray(from, to), this.length);
    this.length += to - from;
  }

  copy(count: number, offset: number): void {
    this.int(count);
    this.byte(0x40);
    this.int(offset);
    this.byte(0x2c);
  }

  latin1(): string {
    return this.bytes.toString("latin1", 0, this.length);
  }

  private room(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + extra));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }
}

function digitCount(value: number): number {
  let count = 1;
  for (let limit = 64; value >= limit; limit *= 64) count++;
  return count;
}

/** Fossil's checksum: the sum of the target read as big-endian 32-bit words, the last one zero-padded. */
function checksum(target: Uint8Array): number {
  let sum = 0;
  const whole = target.length & ~3;
  for (let i = 0; i < whole; i += 4) sum = (sum + ((target[i]! << 24) | (target[i + 1]! << 16) | (target[i + 2]! << 8) | target[i + 3]!)) | 0;
  for (let i = whole; i < target.length; i++) sum = (sum + (target[i]! << (24 - 8 * (i & 3)))) | 0;
  return sum >>> 0;
}

/** A text's UTF-8 bytes in a buffer reused for every text, grown as needed. */
class TextBytes {
  bytes = Buffer.allocUnsafeSlow(8192);

  /** Writes `text`; answers its length in bytes. */
  put(text: string): number {
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4).
    if (text.length * 3 > this.bytes.length) this.bytes = Buffer.allocUnsafeSlow(text.length * 3);
    return this.bytes.write(text, 0, "utf8");
  }
}

// Kept from one delta to the next (after the classes: a class is not hoisted).
const sourceIndex = new SourceIndex();
const writer = new DeltaWriter();
const sourceText = new TextBytes();
const targetText = new TextBytes();
