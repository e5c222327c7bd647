/**
 * Wire formats of the ring all-reduce: how fp32 values travel between workers.
 *
 * Reduction always happens in fp32 (the receiver decodes, adds into its Float32Array, re-encodes).
 * Where precision is lost:
 *   - fp32: nowhere on the wire; only the fp32 additions themselves round (N-1 of them per element,
 *     in ring order) and the final division by N (exact when N is a power of two).
 *   - fp16: every encode rounds to nearest-even with unit roundoff u = 2^-11: each rank's own value,
 *     every partial sum forwarded in reduce-scatter (N-1 roundings) and the final mean once more.
 *     |x| < 2^-14 becomes subnormal (absolute step 2^-24), |x| < 2^-25 flushes to ±0, and any partial
 *     sum >= 65520 becomes ±Inf, which the all-reduce reports as an overflow.
 *   - bf16: same places, u = 2^-8, but fp32's range: overflow only where fp32 overflows too.
 * Bound per element of the mean of N values with max |x| = M: |error| <= u * M * (N + 1) / 2,
 * plus N * 2^-25 in the fp16 subnormal range (see `wireErrorBound`).
 *
 * Bytes are little-endian (typed arrays on a little-endian host; `assertLittleEndian` checks).
 */
import { endianness } from 'node:os';
import type { WireName } from '../../shared/runtime/wire_dtypes.js';
// the names and proto values of the formats live in shared/ (the coordinator announces them too)
export { WIRE_DTYPES, WIRE_NAMES, wireFromDtype, type WireName } from '../../shared/runtime/wire_dtypes.js';

/** Unit roundoff (half an ulp at 1.0) of each format's round-to-nearest-even. */
export const UNIT_ROUNDOFF: Readonly<Record<WireName, number>> = {
  fp32: 2 ** -24,
  fp16: 2 ** -11,
  bf16: 2 ** -8,
};

/** Half the spacing of fp16 subnormals: the absolute error floor of one fp16 rounding. */
const FP16_SUBNORMAL_HALF_STEP = 2 ** -25;

export function bytesPerElement(wire: WireName): number {
  return wire === 'fp32' ? 4 : 2;
}

/**
 * Largest error of one element of an N-way mean over `wire` whose inputs have |x| <= maxAbs: N roundings
 * of values of size up to k*maxAbs (k = 1..N-1, before the division by N) plus the final one, to first
 * order in u (the factor 1 + N*u covers the rest), plus the fp32 additions' own roundings.
 */
export function wireErrorBound(wire: WireName, worldSize: number, maxAbs: number): number {
  const fp32Part = (UNIT_ROUNDOFF.fp32 * maxAbs * (worldSize + 1)) / 2;
  if (wire === 'fp32') return fp32Part;
  const u = UNIT_ROUNDOFF[wire];
  const floor = wire === 'fp16' ? worldSize * FP16_SUBNORMAL_HALF_STEP : 0;
  return ((u * maxAbs * (worldSize + 1)) / 2) * (1 + worldSize * u) + fp32Part + floor;
}

export function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('the ring all-reduce wire format is little-endian; this host is big-endian');
}

// ---- scalar conversions (bit patterns as plain numbers) ------------------------------------------

/** fp32 bits -> fp16 bits, round to nearest even (after F. Giesen's float_to_half_fast3_rtne). */
export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs >= 0x47800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00); // >= 2^16: Inf; NaN stays NaN
  if (abs >= 0x38800000) {
    // normal in fp16: re-bias the exponent (127 -> 15), add the rounding bias, drop 13 mantissa bits;
    // a carry out of the mantissa lands in the exponent, up to 0x7c00 (Inf) from 65520 on
    return sign | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13);
  }
  // zero (most of a gradient: the embedding rows no example touched) and fp32 values below 2^-25 round to 0
  if (abs < 0x33000000) return sign;
  // subnormal in fp16: the value in units of 2^-24, rounded half to even (x is exact in a double)
  const x = f32BitsValue(abs) * 2 ** 24;
  let m = Math.floor(x);
  const frac = x - m;
  if (frac > 0.5 || (frac === 0.5 && (m & 1) === 1)) m += 1;
  return sign | m; // m = 1024 is 0x0400, the smallest normal: still correct
}

/** fp16 bits -> its value. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** fp32 bits -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // < 2^32 for every non-NaN u: no wrap-around
}

// one scratch word for bit casts: allocating two typed arrays per element took an fp16 encode of
// t5-tiny's mostly-zero gradient to 1.2 s (16 ms for bf16); a training step with --wire fp16 to 2.3 s
const SCRATCH_BITS = new Uint32Array(1);
const SCRATCH_F32 = new Float32Array(SCRATCH_BITS.buffer);

function f32BitsValue(bits: number): number {
  SCRATCH_BITS[0] = bits;
  return SCRATCH_F32[0] as number;
}

/** Every fp16 bit pattern's fp32 value: 256 KiB, built once; decoding is one lookup per element. */
const F16_TABLE: Float32Array = Float32Array.from({ length: 0x10000 }, (_, h) => f16BitsToNumber(h));

// ---- buffers -----------------------------------------------------------------------------------
// In the loops below every index is < length: `x[i] as number` only tells noUncheckedIndexedAccess so.

/** `src` in `wire` format. fp32 returns a view of src's bytes (no copy): keep src unchanged while it is in use. */
export function encode(wire: WireName, src: Float32Array): Uint8Array {
  if (wire === 'fp32') return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const n = src.length;
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  const out = new Uint16Array(n);
  if (wire === 'fp16') for (let i = 0; i < n; i++) out[i] = f32BitsToF16(bits[i] as number);
  else for (let i = 0; i < n; i++) out[i] = f32BitsToBf16(bits[i] as number);
  return new Uint8Array(out.buffer);
}

/** dst[i] += value of element i of `bytes` (in `wire` format); dst.length elements. */
export function accumulate(wire: WireName, dst: Float32Array, bytes: Uint8Array): void {
  const n = dst.length;
  if (wire === 'fp32') {
    if (bytes.byteOffset % 4 === 0) {
      const src = new Float32Array(bytes.buffer, bytes.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = (dst[i] as number) + (src[i] as number);
    } else {
      // unaligned (where the message put it): DataView reads cost about what aligned ones do, a copy twice that
      const src = new DataView(bytes.buffer, bytes.byteOffset, n * 4);
      for (let i = 0; i < n; i++) dst[i] = (dst[i] as number) + src.getFloat32(4 * i, true);
    }
    return;
  }
  const src = new DataView(bytes.buffer, bytes.byteOffset, n * 2); // as fast as a Uint16Array, at any offset
  if (wire === 'fp16') {
    for (let i = 0; i < n; i++) dst[i] = (dst[i] as number) + (F16_TABLE[src.getUint16(2 * i, true)] as number);
  } else {
    const one = new Float32Array(1);
    const oneBits = new Uint32Array(one.buffer);
    for (let i = 0; i < n; i++) {
      oneBits[0] = src.getUint16(2 * i, true) << 16;
      dst[i] = (dst[i] as number) + (one[0] as number);
    }
  }
}

/** dst[i] = value of element i of `bytes` (in `wire` format); dst.length elements. */
export function decodeInto(wire: WireName, dst: Float32Array, bytes: Uint8Array): void {
  const n = dst.length;
  if (wire === 'fp32') {
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(bytes.subarray(0, n * 4));
    return;
  }
  const src = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  if (wire === 'fp16') {
    for (let i = 0; i < n; i++) dst[i] = F16_TABLE[src.getUint16(2 * i, true)] as number;
  } else {
    const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) dstBits[i] = src.getUint16(2 * i, true) << 16;
  }
}

/** values[i] /= divisor (correctly rounded in fp32); returns whether any result is Inf or NaN. */
export function divideAndCheck(values: Float32Array, divisor: number): boolean {
  let nonfinite = false;
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] as number) / divisor;
    values[i] = v;
    if (v - v !== 0) nonfinite = true;
  }
  return nonfinite;
}

/** True if any element is Inf or NaN. */
export function hasNonFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v - v !== 0) return true; // Inf - Inf and NaN - NaN are NaN; finite - itself is 0
  }
  return false;
}
