/**
 * A map from strings to int32 values that does not hold the strings: an open-addressing table of
 * 64-bit hashes (two uint32 columns) and values (an int32 column), 12 bytes per slot, at most
 * MAX_LOAD full, so 17 to 34 bytes per entry. A lookup that meets an equal hash confirms it with
 * `keyOf(value)`, the caller's way of reading the key back (e.g. from a StringSpill on disk), so two
 * different strings with the same 64-bit hash stay two entries: results are exact, the hash only
 * decides how often a key is read back (about once per found key, collisions aside).
 */

/** Writes a 64-bit hash of `s` into out[0] (high) and out[1] (low). */
export type StringHash = (s: string, out: Uint32Array) => void;

/** Grow when this share of the slots is taken (linear probing stays short below it). */
const MAX_LOAD = 0.7;
const INITIAL_SLOTS = 1024;
const EMPTY = -1;

/** Two independent 32-bit multiplicative hashes of the UTF-16 code units, each finished by murmur3's fmix32. */
export function hash64(s: string, out: Uint32Array): void {
  let a = 0x811c9dc5 ^ s.length;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  out[0] = fmix32(a);
  out[1] = fmix32(b);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class StringHashIndex {
  private hi = new Uint32Array(INITIAL_SLOTS);
  private lo = new Uint32Array(INITIAL_SLOTS);
  private values = new Int32Array(INITIAL_SLOTS).fill(EMPTY);
  private mask = INITIAL_SLOTS - 1;
  private entries = 0;
  private readonly h = new Uint32Array(2);
  /** Keys read back to confirm a hash match (the found ones plus the collisions). */
  keyReads = 0;

  /**
   * @param keyOf the key stored with `value` (called only on a full 64-bit hash match)
   * @param hash the string hash; tests pass a weak one to force collisions
   */
  constructor(private readonly keyOf: (value: number) => string, private readonly hash: StringHash = hash64) {}

  get size(): number {
    return this.entries;
  }

  /** Bytes of the table. */
  get residentBytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.values.byteLength;
  }

  /** The value of `key`, or -1 when absent. */
  get(key: string): number {
    this.hash(key, this.h);
    const hi = this.h[0] as number, lo = this.h[1] as number;
    for (let slot = lo & this.mask; ; slot = (slot + 1) & this.mask) {
      const v = this.values[slot] as number;
      if (v === EMPTY) return EMPTY;
      if (this.hi[slot] === hi && this.lo[slot] === lo) {
        this.keyReads++;
        if (this.keyOf(v) === key) return v;
      }
    }
  }

  /** Adds `key` -> `value` (>= 0); the caller knows `key` is absent (get returned -1). */
  add(key: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`StringHashIndex.add: value ${value} is not an int32 >= 0`);
    if (this.entries + 1 > MAX_LOAD * this.values.length) this.grow();
    this.hash(key, this.h);
    this.place(this.h[0] as number, this.h[1] as number, value);
    this.entries++;
  }

  private place(hi: number, lo: number, value: number): void {
    let slot = lo & this.mask;
    while (this.values[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.values[slot] = value;
  }

  /** Doubles the table and re-places every entry from its stored hash (no key is read back). */
  private grow(): void {
    const { hi, lo, values } = this;
    const n = values.length * 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.values = new Int32Array(n).fill(EMPTY);
    this.mask = n - 1;
    for (let s = 0; s < values.length; s++) {
      const v = values[s] as number;
      if (v !== EMPTY) this.place(hi[s] as number, lo[s] as number, v);
    }
  }
}
