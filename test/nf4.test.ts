/** NF4 against its definition: the 16 codes, per-block absmax, nearest-code rounding, nibble order, the error bound. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DOUBLE_QUANT_BLOCK, DYNAMIC_MAP_8BIT, NF4_BLOCK, NF4_CODES, NF4_MAX_HALF_GAP, blockScales, dequantizeNf4, nf4Bytes, quantizeNf4,
} from '../shared/model/nf4.js';
import { Rng } from '../shared/runtime/random.js';

/** bitsandbytes' NF4 table (functional.py, get_4bit_type('nf4')), typed in by hand from the source. */
const BNB_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
  0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0];

function normals(n: number, seed: number, std = 0.05): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => {
    let u = 0;
    while (u === 0) u = rng.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat()) * std;
  });
}

test('the 16 NF4 codes are bitsandbytes\' table; the largest half-gap is between -1 and the next code', () => {
  assert.deepEqual([...NF4_CODES], BNB_NF4.map(Math.fround));
  assert.equal(NF4_CODES[7], 0);
  assert.ok(Math.abs(NF4_MAX_HALF_GAP - (1 - 0.6961928009986877) / 2) < 1e-7, `${NF4_MAX_HALF_GAP}`);
});

test('block absmax: one scale per block of 64 (a short last block too), the max-magnitude value decodes exactly', () => {
  const n = 5 * NF4_BLOCK + 17;
  const x = normals(n, 1);
  const q = quantizeNf4(x, [n], false);
  const scales = blockScales(q);
  assert.equal(scales.length, 6);
  const deq = dequantizeNf4(q);
  for (let b = 0; b < 6; b++) {
    const block = x.subarray(b * NF4_BLOCK, Math.min((b + 1) * NF4_BLOCK, n));
    const absmax = Math.max(...Array.from(block, Math.abs));
    assert.equal(scales[b], absmax, `block ${b}`);
    const at = b * NF4_BLOCK + Array.from(block, Math.abs).indexOf(absmax);
    assert.equal(deq[at], x[at], `block ${b}: its absmax value decodes to code ±1 exactly`);
  }
  assert.equal(q.codes.length, Math.ceil(n / 2));
});

test('every value goes to the nearest code and |w - deq(q(w))| <= absmax * max half-gap', () => {
  const n = 64 * NF4_BLOCK;
  const x = normals(n, 2);
  const q = quantizeNf4(x, [64, NF4_BLOCK], false);
  const deq = dequantizeNf4(q);
  const scales = blockScales(q);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const s = scales[Math.floor(i / NF4_BLOCK)] as number;
    const err = Math.abs((x[i] as number) - (deq[i] as number));
    // nearest: no other code is closer to w / s (a truncating quantiser fails this)
    const v = (x[i] as number) / s, chosen = (deq[i] as number) / s;
    for (const c of NF4_CODES) assert.ok(Math.abs(v - chosen) <= Math.abs(v - c) + 1e-6, `value ${i}: ${v} went to ${chosen}, ${c} is closer`);
    assert.ok(err <= s * NF4_MAX_HALF_GAP * (1 + 1e-6), `value ${i}: error ${err} > bound ${s * NF4_MAX_HALF_GAP}`);
    worst = Math.max(worst, err / s);
  }
  // normal data fills the widest gap too: the bound is nearly reached, so it is the right bound
  assert.ok(worst > 0.8 * NF4_MAX_HALF_GAP, `worst normalised error ${worst}`);
});

test('two codes per byte, the first value in the high nibble (bitsandbytes\' order); a zero block decodes to zeros', () => {
  const x = new Float32Array(NF4_BLOCK * 2);
  x.set([-1, 1, 0, 0.07958029955625534]);                  // block 0: absmax 1; block 1: all zeros
  const q = quantizeNf4(x, [x.length], false);
  assert.equal(q.codes[0], 0x0f);                          // -1 -> code 0 (high), 1 -> code 15 (low)
  assert.equal(q.codes[1], 0x78);                          // 0 -> code 7, 0.0796 -> code 8
  assert.deepEqual([...dequantizeNf4(q).subarray(NF4_BLOCK)], new Array(NF4_BLOCK).fill(0));
});

test('the 8-bit dynamic map of double quantisation: 256 distinct sorted values in [-1, 1] with 0 and 1', () => {
  assert.equal(DYNAMIC_MAP_8BIT.length, 256);
  assert.equal(new Set(DYNAMIC_MAP_8BIT).size, 256);
  for (let i = 1; i < 256; i++) assert.ok((DYNAMIC_MAP_8BIT[i] as number) > (DYNAMIC_MAP_8BIT[i - 1] as number));
  assert.ok(DYNAMIC_MAP_8BIT.includes(0) && DYNAMIC_MAP_8BIT[255] === 1);
  assert.ok(Math.abs((DYNAMIC_MAP_8BIT[0] as number) + (1 + 63 / 64 * 0.9 + 0.1) / 2) < 1e-6);   // -(mean of the top two boundaries)
});

test('double quantisation: scales within 1% and |w - deq| <= absmax * max half-gap + |absmax - absmax\'|; bytes as the paper', () => {
  const blocks = 2 * DOUBLE_QUANT_BLOCK + 10, n = blocks * NF4_BLOCK;
  const x = normals(n, 3);
  const plain = quantizeNf4(x, [n], false), dq = quantizeNf4(x, [n], true);
  assert.deepEqual(dq.codes, plain.codes);                 // the 4-bit codes do not depend on how scales are stored
  const s = blockScales(plain), s2 = blockScales(dq);
  const deq = dequantizeNf4(dq);
  for (let b = 0; b < blocks; b++) {
    const scaleErr = Math.abs((s[b] as number) - (s2[b] as number));
    assert.ok(scaleErr <= 0.01 * (s[b] as number), `block ${b}: scale ${s[b]} stored as ${s2[b]}`);
    for (let i = b * NF4_BLOCK; i < (b + 1) * NF4_BLOCK; i++) {
      const err = Math.abs((x[i] as number) - (deq[i] as number));
      assert.ok(err <= ((s[b] as number) * NF4_MAX_HALF_GAP + scaleErr) * (1 + 1e-6), `value ${i}: error ${err}`);
    }
  }
  // 4 bits per weight + scales: fp32 (32/64 bits per weight) or 8-bit + fp32 per 256 + the offset
  assert.equal(nf4Bytes(plain), n / 2 + 4 * blocks);
  assert.equal(nf4Bytes(dq), n / 2 + blocks + 4 * Math.ceil(blocks / DOUBLE_QUANT_BLOCK) + 4);
});
