/**
 * Dropout masks keyed by example, not by batch: every element of an example's activations draws
 * its keep/drop decision from a counter-based hash of (the example's key, the dropout call, the
 * element's place within the example). So an example gets the same masks whichever micro-batch,
 * length group, padding or worker it lands in, and 1, 2 or 4 workers (or a re-formed ring) follow
 * the same trajectory with dropout on. The trainer keys each example by its global position
 * (shared/training/trainer.ts). Drawn in JS, like every random choice here: the same on every backend.
 */

/** A 32-bit finaliser (MurmurHash3's fmix32): every input bit affects every output bit. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform 32-bit value number `i` of the stream `key` (splitmix32 steps, random access). */
function draw(key: number, i: number): number {
  return fmix((key + Math.imul(i + 1, 0x9e3779b9)) >>> 0);
}

/**
 * The multiplier of every element of a (rows.length * L, D) or (rows.length, H, T, S) activation at
 * dropout call `call`: 0 (dropped) or 1 / (1 - rate). 2-D: row r belongs to example floor(r / L) at
 * token r % L; element (t, j) of an example is number t * D + j of its stream, so padding (a larger L)
 * leaves the real tokens' masks alone. 4-D (attention probabilities): element (h, i, j), keyed by
 * head and query row, then key column, so T and S may be padded too.
 */
export function dropoutMultipliers(shape: readonly number[], rowKeys: Uint32Array, call: number, rate: number): Float32Array {
  const B = rowKeys.length;
  const size = shape.reduce((n, d) => n * d, 1);
  const out = new Float32Array(size);
  const threshold = Math.floor(rate * 4294967296), keep = 1 / (1 - rate);
  const keys = Array.from(rowKeys, (k) => fmix((k ^ Math.imul(call, 0x27d4eb2f)) >>> 0));
  if (shape.length === 2) {
    const [N, D] = shape as [number, number];
    if (N % B !== 0) throw new Error(`dropout: ${N} rows are not a whole number of rows for ${B} examples`);
    const L = N / B;
    for (let r = 0, o = 0; r < N; r++) {
      const key = keys[Math.floor(r / L)] as number, base = (r % L) * D;
      for (let j = 0; j < D; j++, o++) out[o] = draw(key, base + j) >= threshold ? keep : 0;
    }
    return out;
  }
  if (shape.length === 4) {
    const [b0, H, T, S] = shape as [number, number, number, number];
    if (b0 !== B) throw new Error(`dropout: attention batch ${b0} differs from the ${B} example keys`);
    let o = 0;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const key = draw(keys[b] as number, h * 65536 + i);
          for (let j = 0; j < S; j++, o++) out[o] = draw(key, j) >= threshold ? keep : 0;
        }
    return out;
  }
  throw new Error(`dropout: activations of shape [${shape.join(', ')}] (2-D rows or 4-D attention expected)`);
}
