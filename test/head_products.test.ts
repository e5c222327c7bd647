/**
 * The per-head attention products (head_products.ts) on the SIMD kernels and on tf ops equal the
 * plain per-head tf.matMul formulation, values and gradients (tf's own), on the cpu backend, for
 * shapes that exercise every kernel tail (odd row counts, column counts not a multiple of 4 or 8).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { headMix, headScores, type HeadImpl } from '../shared/model/head_products.js';
import { layout, simdKernels } from '../shared/model/simd_kernels.js';
import { maxAbsDiff } from './tensor_checks.js';

before(async () => { await initBackend('cpu'); });

/** The textbook formulation: split heads with transposes, batched tf.matMul, merge. */
function reference(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, B: number, T: number, S: number, H: number): tf.Tensor2D {
  const Kv = q.shape[1] / H;
  const heads = (x: tf.Tensor2D, N: number): tf.Tensor3D => x.reshape([B, N, H, Kv]).transpose([0, 2, 1, 3]).reshape([B * H, N, Kv]) as tf.Tensor3D;
  const scores = tf.matMul(heads(q, T), heads(k, S), false, true);                 // (B*H, T, S)
  const probs = tf.softmax(scores);
  const y = tf.matMul(probs, heads(v, S));                                           // (B*H, T, Kv)
  return y.reshape([B, H, T, Kv]).transpose([0, 2, 1, 3]).reshape([B * T, H * Kv]) as tf.Tensor2D;
}

function ours(impl: HeadImpl) {
  return (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, B: number, T: number, S: number, H: number): tf.Tensor2D =>
    headMix(tf.softmax(headScores(q, k, B, T, S, H, impl)) as tf.Tensor4D, v, B, T, S, H, impl);
}

// (B, T, S, H, Kv): t5-tiny's encoder, decoder self- and cross-attention, then odd sizes for the tails
const SHAPES = [[2, 64, 64, 4, 32], [2, 4, 4, 4, 32], [2, 4, 64, 4, 32], [3, 5, 7, 2, 3], [1, 1, 9, 3, 5], [2, 9, 1, 1, 13], [1, 13, 6, 2, 1]];

for (const impl of ['simd', 'tf'] as const) {
  for (const [B, T, S, H, Kv] of SHAPES as Array<[number, number, number, number, number]>) {
    test(`attention head products (${impl}) B=${B} T=${T} S=${S} H=${H} Kv=${Kv}: values and gradients equal tf.matMul's`, () => {
      tf.tidy(() => {
        const q = tf.randomNormal([B * T, H * Kv], 0, 1, 'float32', 1) as tf.Tensor2D;
        const k = tf.randomNormal([B * S, H * Kv], 0, 1, 'float32', 2) as tf.Tensor2D;
        const v = tf.randomNormal([B * S, H * Kv], 0, 1, 'float32', 3) as tf.Tensor2D;
        const dy = tf.randomNormal([B * T, H * Kv], 0, 1, 'float32', 4);
        const loss = (f: typeof reference) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor2D, B, T, S, H), dy));
        const mine = tf.valueAndGrads(loss(ours(impl)))([q, k, v]);
        const theirs = tf.valueAndGrads(loss(reference))([q, k, v]);
        const scale = Math.max(1, Math.abs(theirs.value.dataSync()[0] as number));
        assert.ok(Math.abs((mine.value.dataSync()[0] as number) - (theirs.value.dataSync()[0] as number)) < 1e-5 * scale);
        for (let i = 0; i < 3; i++) {
          const d = maxAbsDiff(mine.grads[i] as tf.Tensor, theirs.grads[i] as tf.Tensor);
          assert.ok(d < 1e-4, `gradient ${'qkv'[i]}: max diff ${d}`);
        }
      });
    });
  }
}

test('SIMD kernel mm: strided and transposed A, every row/column tail, equals a scalar loop; writes nothing past C', () => {
  const k = simdKernels();
  let seed = 5;
  const rand = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 - 0.5; };
  for (const [M, N, K] of [[1, 1, 1], [3, 5, 7], [4, 8, 2], [5, 9, 3], [8, 16, 4], [7, 13, 1], [9, 3, 17], [6, 2, 64]] as const) {
    for (const transA of [false, true]) {
      const A = Float32Array.from({ length: M * K }, rand), Bm = Float32Array.from({ length: K * N }, rand);
      const [aRs, aCs] = transA ? [1, M] : [K, 1];                              // transA: A stored (K, M)
      const { offsets, f32 } = layout([M * K, K * N, M * N + 8]);
      const [oa, ob, oc] = offsets as [number, number, number];
      f32.set(A, oa / 4); f32.set(Bm, ob / 4); f32.fill(NaN, oc / 4, oc / 4 + M * N + 8);
      k.mm(M, N, K, oa, aRs * 4, aCs * 4, ob, N * 4, oc, N * 4);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let x = 0; x < K; x++) s += (A[i * aRs + x * aCs] as number) * (Bm[x * N + j] as number);
          const got = f32[oc / 4 + i * N + j] as number;
          assert.ok(Math.abs(got - s) < 1e-5, `M=${M} N=${N} K=${K} transA=${transA} C[${i}][${j}] = ${got}, want ${s}`);
        }
      }
      assert.ok(Number.isNaN(f32[oc / 4 + M * N] as number), 'the kernel wrote past the end of C');
    }
  }
});

test('transposedProduct a^T @ b (weight gradients) equals tf.matMul with transposeA, odd shapes, both implementations', async () => {
  const { transposedProduct } = await import('../shared/model/head_products.js');
  for (const [K, M, N] of [[1, 1, 1], [7, 5, 9], [64, 12, 3], [33, 4, 8], [2048, 13, 17]] as const) {
    tf.tidy(() => {
      const a = tf.randomNormal([K, M], 0, 1, 'float32', 7) as tf.Tensor2D;
      const b = tf.randomNormal([K, N], 0, 1, 'float32', 8) as tf.Tensor2D;
      const want = tf.matMul(a, b, true, false);
      for (const impl of ['simd', 'tf'] as const) {
        const got = transposedProduct(a, b, impl);
        assert.deepEqual(got.shape, [M, N]);
        assert.ok(maxAbsDiff(got, want) < 1e-4 * Math.sqrt(K), `K=${K} M=${M} N=${N} ${impl}: ${maxAbsDiff(got, want)}`);
      }
    });
  }
});
