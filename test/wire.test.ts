import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accumulate, decodeInto, encode, f16BitsToNumber, f32BitsToBf16, f32BitsToF16, hasNonFinite,
} from '../worker/collective/wire.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => { f32[0] = x; return u32[0] as number; };

test('fp16: every finite fp16 value round-trips, and every midpoint rounds to the even neighbour', () => {
  for (let h = 0; h < 0x7c00; h++) {
    const v = f16BitsToNumber(h);
    assert.equal(f32BitsToF16(bitsOf(v)), h, `value ${v}`);
    assert.equal(f32BitsToF16(bitsOf(-v)), h | 0x8000, `value ${-v}`);
    // the midpoint between h and h+1 is exact in fp32; ties go to the even bit pattern
    const mid = (v + f16BitsToNumber(h + 1)) / 2;
    assert.equal(f32BitsToF16(bitsOf(mid)), h % 2 === 0 ? h : h + 1, `midpoint ${mid} of 0x${h.toString(16)}`);
  }
});

test('fp16: range edges, specials and subnormals', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-1e9, 0xfc00],
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [-0, 0x8000], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
    [1.5 * 2 ** -24, 0x0002], [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400], [1e-10, 0],
    // around the shortcut for values below 2^-25 (they round to zero): just below, just above, negative
    [Math.fround(2 ** -25 * (1 - 2 ** -20)), 0], [Math.fround(2 ** -25 * (1 + 2 ** -20)), 0x0001], [-(2 ** -26), 0x8000], [0, 0],
  ];
  for (const [x, h] of cases) assert.equal(f32BitsToF16(bitsOf(x)), h, `fp16(${x})`);
  assert.ok(Number.isNaN(f16BitsToNumber(f32BitsToF16(bitsOf(NaN)))));
});

test('bf16: truncation with round-to-nearest-even, fp32 range, NaN stays NaN', () => {
  assert.equal(f32BitsToBf16(bitsOf(1)), 0x3f80);
  assert.equal(f32BitsToBf16(0x3f808000), 0x3f80); // tie, even stays
  assert.equal(f32BitsToBf16(0x3f818000), 0x3f82); // tie, odd rounds up to even
  assert.equal(f32BitsToBf16(0x3f808001), 0x3f81); // above the tie
  assert.equal(f32BitsToBf16(0x7f7fffff), 0x7f80); // fp32 max rounds to Inf
  assert.equal(f32BitsToBf16(bitsOf(-Infinity)), 0xff80);
  assert.equal(f32BitsToBf16(bitsOf(3e38)), 0x7f62); // still finite
  const nan = f32BitsToBf16(0x7f800001);
  assert.ok((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0, `0x${nan.toString(16)} is a NaN`);
});

test('encode/decode/accumulate agree with the scalar conversions, also on unaligned received bytes', () => {
  const n = 1001;
  const x = Float32Array.from({ length: n }, (_, i) => (i - 500) * 0.37 + 1 / (i + 1));
  for (const wire of ['fp32', 'fp16', 'bf16'] as const) {
    const bytes = encode(wire, x);
    // as gRPC delivers it: a Buffer view at an odd offset into a larger message
    const message = Buffer.alloc(bytes.byteLength + 3);
    message.set(bytes, 3);
    const received = message.subarray(3);
    const decoded = new Float32Array(n);
    decodeInto(wire, decoded, received);
    const acc = new Float32Array(n).fill(2);
    accumulate(wire, acc, received);
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number;
      const expected = wire === 'fp32' ? xi : wire === 'fp16' ? f16BitsToNumber(f32BitsToF16(bitsOf(xi))) : Math.fround(new Float32Array(new Uint32Array([f32BitsToBf16(bitsOf(xi)) << 16]).buffer)[0] as number);
      assert.equal(decoded[i], expected, `${wire} decode [${i}]`);
      assert.equal(acc[i], Math.fround(2 + expected), `${wire} accumulate [${i}]`);
    }
  }
});

test('hasNonFinite finds Inf and NaN and nothing else', () => {
  assert.equal(hasNonFinite(Float32Array.of(0, -0, 3.4e38, -1e-45)), false);
  assert.equal(hasNonFinite(Float32Array.of(0, Infinity)), true);
  assert.equal(hasNonFinite(Float32Array.of(NaN, 1)), true);
});
