/**
 * A small, deterministic pseudo-random generator: sfc32 (Chris Doty-Humphrey's "Small Fast Counting"
 * generator, 128-bit state, period at least 2^32, passes PractRand to 2^40+ bytes), seeded through
 * splitmix32 so that nearby seeds (0, 1, 2, ...) give unrelated streams.
 *
 * The same (seed, stream) gives the same sequence on every machine and Node version: only 32-bit
 * integer arithmetic (`Math.imul`, `| 0`, `>>>`) is used. `stream` separates independent uses of one
 * user seed (docid assignment, query split, data order, dropout) without them sharing numbers.
 * Not for cryptography.
 */

/** Rounds of the generator discarded after seeding, as the sfc32 reference does. */
const WARMUP_ROUNDS = 12;
const TWO_POW_32 = 2 ** 32;

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1; // sfc32's counter starts at 1

  /**
   * @param seed an integer in [0, 2^53): the low and high 32-bit halves both enter the state
   * @param stream an integer in [0, 2^32) selecting an independent sequence for the same seed
   */
  constructor(readonly seed: number, readonly stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`Rng seed must be an integer in [0, 2^53), got ${seed}`);
    if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
      throw new RangeError(`Rng stream must be an integer in [0, 2^32), got ${stream}`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.a = splitmix32(lo);
    this.b = splitmix32(hi ^ this.a);
    this.c = splitmix32(stream ^ this.b);
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.nextUint32();
  }

  /** The next 32-bit unsigned integer, uniform in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits (a multiple of 2^-32). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n) without modulo bias (rejection sampling); n in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new RangeError(`nextInt(n) needs an integer n in [1, 2^32], got ${n}`);
    // accept only values below the largest multiple of n that fits in 32 bits
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher-Yates shuffle of `items` in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i] as T; // i and j are in range, so both reads are defined
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
