/**
 * 4-bit NormalFloat (NF4) block quantisation, as QLoRA (Dettmers et al. 2023) and bitsandbytes:
 * values are cut into blocks of 64, each block is divided by its absmax and every value is
 * replaced by the index of the nearest of 16 fixed codes (quantiles of N(0, 1) scaled to [-1, 1],
 * with an exact 0). Two codes share a byte, the first in the high nibble (bitsandbytes' order).
 *
 * Double quantisation (the paper's section 3): the fp32 block scales themselves are centred on
 * their mean and quantised to 8 bits in blocks of 256 with bitsandbytes' signed dynamic map,
 * cutting the scale cost from 32/64 = 0.5 to 8/64 + 32/(64*256) ~ 0.127 bits per weight.
 *
 * Error bound: a value w in a block with scale s = absmax is decoded as c_k * s' where c_k is the
 * code nearest to w / s and s' the stored (possibly double-quantised) scale, so
 *   |w - deq(q(w))| <= s * NF4_MAX_HALF_GAP + |s - s'|        (|c_k| <= 1)
 * and without double quantisation s' = s: |w - deq(q(w))| <= absmax * NF4_MAX_HALF_GAP (~0.152).
 */

/** The 16 NF4 codes, exactly bitsandbytes' table (index = the stored 4-bit value). */
export const NF4_CODES = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** Values per NF4 block (one absmax each), as in the paper. */
export const NF4_BLOCK = 64;
/** Scales per block of the second (8-bit) quantisation, as in the paper. */
export const DOUBLE_QUANT_BLOCK = 256;
/** Index of the exact zero code: an all-zero block decodes to zeros. */
const NF4_ZERO = 7;

/** Midpoints between adjacent codes: a normalised value above MID[k] rounds past code k. */
const NF4_MIDPOINTS = Float32Array.from({ length: 15 }, (_, k) => ((NF4_CODES[k] as number) + (NF4_CODES[k + 1] as number)) / 2);

/** The largest half-gap between adjacent codes (between -1 and -0.696): the worst rounding of w / absmax. */
export const NF4_MAX_HALF_GAP = Math.max(...Array.from(NF4_MIDPOINTS, (m, k) => m - (NF4_CODES[k] as number)));

/**
 * bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 sorted
 * values in [-1, 1], dense near 0 (a dynamic exponent 10^-6..10^0 with a shrinking fraction).
 */
export const DYNAMIC_MAP_8BIT: Float32Array = (() => {
  const data: number[] = [];
  const maxExponentBits = 7;
  for (let i = 0; i < maxExponentBits; i++) {
    const items = 2 ** i + 1;                         // linspace(0.1, 1, items)
    const boundaries = Array.from({ length: items }, (_, j) => Math.fround(0.1 + (0.9 * j) / (items - 1)));
    for (let j = 0; j + 1 < items; j++) {
      const mean = Math.fround(((boundaries[j] as number) + (boundaries[j + 1] as number)) / 2);
      const v = Math.fround(10 ** (-(maxExponentBits - 1) + i) * mean);
      data.push(v, -v);
    }
  }
  data.push(0, 1.0);
  return Float32Array.from(data).sort();
})();

/** The block scales: fp32, or double-quantised (8-bit codes into DYNAMIC_MAP_8BIT). */
export type Nf4Scales =
  | { kind: 'f32'; absmax: Float32Array }                               // (numBlocks,)
  | { kind: 'dq8'; codes: Uint8Array; absmax: Float32Array; offset: number }; // (numBlocks,), (ceil(numBlocks/256),), mean

/** An NF4-quantised tensor: what QLoRA keeps of a frozen base weight. */
export interface Nf4Tensor {
  shape: number[];
  size: number;
  codes: Uint8Array;     // (ceil(size/2),) two 4-bit codes per byte
  scales: Nf4Scales;
}

function nearestNf4(v: number): number {
  let k = 0;
  while (k < 15 && v > (NF4_MIDPOINTS[k] as number)) k++;
  return k;
}

/** Index of the value of a sorted table nearest to v (binary search, then the closer neighbour). */
function nearestSorted(table: Float32Array, v: number): number {
  let lo = 0, hi = table.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((table[mid] as number) <= v) lo = mid; else hi = mid;
  }
  return Math.abs(v - (table[lo] as number)) <= Math.abs((table[hi] as number) - v) ? lo : hi;
}

/** Quantises `x` (any length; the last block may be short) to NF4, optionally double-quantising the scales. */
export function quantizeNf4(x: Float32Array, shape: number[], doubleQuant: boolean): Nf4Tensor {
  const size = x.length;
  if (shape.reduce((a, b) => a * b, 1) !== size) throw new Error(`quantizeNf4: shape [${shape.join(', ')}] does not hold ${size} values`);
  const numBlocks = Math.ceil(size / NF4_BLOCK);
  const absmax = new Float32Array(numBlocks);
  const codes = new Uint8Array(Math.ceil(size / 2));
  for (let b = 0; b < numBlocks; b++) {
    const start = b * NF4_BLOCK, end = Math.min(start + NF4_BLOCK, size);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(x[i] as number));
    absmax[b] = m;
    for (let i = start; i < end; i++) {
      const k = m === 0 ? NF4_ZERO : nearestNf4((x[i] as number) / m);
      // element 2j in the high nibble, 2j+1 in the low one
      codes[i >> 1] = (i & 1) === 0 ? k << 4 : (codes[i >> 1] as number) | k;
    }
  }
  return { shape: [...shape], size, codes, scales: doubleQuant ? quantizeScales(absmax) : { kind: 'f32', absmax } };
}

/** Second quantisation: scales - mean, per 256 scales divided by their absmax, to the nearest 8-bit dynamic code. */
function quantizeScales(absmax: Float32Array): Nf4Scales {
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = Math.fround(sum / Math.max(absmax.length, 1));
  const numBlocks = Math.ceil(absmax.length / DOUBLE_QUANT_BLOCK);
  const absmax2 = new Float32Array(numBlocks);
  const codes = new Uint8Array(absmax.length);
  for (let b = 0; b < numBlocks; b++) {
    const start = b * DOUBLE_QUANT_BLOCK, end = Math.min(start + DOUBLE_QUANT_BLOCK, absmax.length);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs((absmax[i] as number) - offset));
    absmax2[b] = m;
    for (let i = start; i < end; i++) codes[i] = m === 0 ? nearestSorted(DYNAMIC_MAP_8BIT, 0) : nearestSorted(DYNAMIC_MAP_8BIT, ((absmax[i] as number) - offset) / m);
  }
  return { kind: 'dq8', codes, absmax: absmax2, offset };
}

/** The scale each NF4 block decodes with (the stored one: after double quantisation if used). */
export function blockScales(q: Nf4Tensor): Float32Array {
  const s = q.scales;
  if (s.kind === 'f32') return s.absmax;
  const out = new Float32Array(s.codes.length);
  for (let i = 0; i < out.length; i++)
    out[i] = (DYNAMIC_MAP_8BIT[s.codes[i] as number] as number) * (s.absmax[Math.floor(i / DOUBLE_QUANT_BLOCK)] as number) + s.offset;
  return out;
}

/** Decodes to float32 (into `out` when given, to reuse a buffer). */
export function dequantizeNf4(q: Nf4Tensor, out = new Float32Array(q.size)): Float32Array {
  if (out.length !== q.size) throw new Error(`dequantizeNf4: output holds ${out.length} values, tensor has ${q.size}`);
  const scales = blockScales(q);
  const { codes } = q;
  for (let b = 0; b < scales.length; b++) {
    const s = scales[b] as number;
    const start = b * NF4_BLOCK, end = Math.min(start + NF4_BLOCK, q.size);
    for (let i = start; i < end; i++) {
      const byte = codes[i >> 1] as number;
      out[i] = (NF4_CODES[(i & 1) === 0 ? byte >> 4 : byte & 0xf] as number) * s;
    }
  }
  return out;
}

/** Bytes the quantised tensor occupies: codes, scales (and the second level's scales and offset). */
export function nf4Bytes(q: Nf4Tensor): number {
  const s = q.scales;
  return q.codes.byteLength + (s.kind === 'f32' ? s.absmax.byteLength : s.codes.byteLength + s.absmax.byteLength + 4);
}
