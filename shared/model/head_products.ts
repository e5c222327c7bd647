/**
 * The two per-head products of multi-head attention, on activations kept in the projection layout
 * (tokens, H*Kv), i.e. (B, T, H, Kv) row-major, with their gradients. On wasm and cpu they run on
 * the SIMD kernels of simd_kernels.ts, one head at a time with strided reads and writes (no head
 * transposes, no 3-D BatchMatMul, the slow path of tfjs-wasm); elsewhere (native TensorFlow,
 * WebGPU, whose batched matMul is fast) on tf ops. test/head_products.test.ts proves both equal
 * to tf.matMul and their gradients equal to tf's own.
 */
import * as tf from '@tensorflow/tfjs';
import { layout, simdKernels } from './simd_kernels.js';

export type HeadImpl = 'simd' | 'tf';

/** The kernels where tensor data lives in JS-reachable memory (wasm heap, cpu arrays). */
export function defaultHeadImpl(): HeadImpl {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? 'simd' : 'tf';
}

/** Head h of batch row b of a (B*N, H*Kv) tensor as (B*H, N, Kv). */
function split(x: tf.Tensor2D, B: number, N: number, H: number): tf.Tensor3D {
  const Kv = x.shape[1] / H;
  return x.reshape([B, N, H, Kv]).transpose([0, 2, 1, 3]).reshape([B * H, N, Kv]) as tf.Tensor3D;
}
function merge(y: tf.Tensor3D, B: number, N: number, H: number): tf.Tensor2D {
  const Kv = y.shape[2];
  return y.reshape([B, H, N, Kv]).transpose([0, 2, 1, 3]).reshape([B * N, H * Kv]) as tf.Tensor2D;
}

/** Byte offset of head (b, h)'s first element in a (B*N, H*Kv) tensor. */
const headAt = (b: number, h: number, N: number, H: number, Kv: number): number => (b * N * H * Kv + h * Kv) * 4;

function floats(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`head products: need float32 tensors, got ${t.dtype}`);
  return t.dataSync() as Float32Array;
}

/** x (B*T, H*Kv), y (B*S, H*Kv) -> (B, H, T, S): out[b,h,t,s] = x[b,t,h,:] . y[b,s,h,:]. */
export function pairDots(x: tf.Tensor2D, y: tf.Tensor2D, B: number, T: number, S: number, H: number, impl: HeadImpl): tf.Tensor4D {
  if (impl === 'tf') {
    const yT = y.reshape([B, S, H, y.shape[1] / H]).transpose([0, 2, 3, 1]).reshape([B * H, -1, S]) as tf.Tensor3D;
    return tf.matMul(split(x, B, T, H), yT).reshape([B, H, T, S]);
  }
  const W = x.shape[1], Kv = W / H, k = simdKernels();
  const xd = floats(x), yd = floats(y);
  const { offsets: [ox, oy, oo, os], f32 } = layout([xd.length, yd.length, B * H * T * S, Kv * S]) as { offsets: number[]; f32: Float32Array };
  f32.set(xd, ox as number / 4);
  f32.set(yd, oy as number / 4);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      k.tr(S, Kv, (oy as number) + headAt(b, h, S, H, Kv), W * 4, os as number);          // y head^T: (Kv, S)
      k.mm(T, S, Kv, (ox as number) + headAt(b, h, T, H, Kv), W * 4, 4, os as number, S * 4, (oo as number) + (b * H + h) * T * S * 4, S * 4);
    }
  }
  const o = (oo as number) / 4;
  return tf.tensor4d(f32.slice(o, o + B * H * T * S), [B, H, T, S]);
}

/**
 * m (B, H, T, S), y (B*S, H*Kv) -> (B*T, H*Kv): out[b,t,h,:] = sum_s m[b,h,t,s] y[b,s,h,:].
 * With `transposeM`, m is (B, H, S, T) and read transposed (out has B*T rows, T its last dim).
 */
export function weigh(m: tf.Tensor4D, y: tf.Tensor2D, B: number, T: number, S: number, H: number, impl: HeadImpl, transposeM = false): tf.Tensor2D {
  if (impl === 'tf') {
    const mm = m.reshape([B * H, m.shape[2], m.shape[3]]) as tf.Tensor3D;
    return merge(tf.matMul(transposeM ? tf.transpose(mm, [0, 2, 1]) : mm, split(y, B, S, H)), B, T, H);
  }
  const W = y.shape[1], Kv = W / H, k = simdKernels();
  const md = floats(m), yd = floats(y);
  const { offsets: [om, oy, oo], f32 } = layout([md.length, yd.length, B * T * W]) as { offsets: number[]; f32: Float32Array };
  f32.set(md, om as number / 4);
  f32.set(yd, oy as number / 4);
  // m's head (T, S) rows are S floats apart; read transposed, (S, T) stored, a row step is one float
  const [mRs, mCs] = transposeM ? [4, T * 4] : [S * 4, 4];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      k.mm(T, Kv, S, (om as number) + (b * H + h) * T * S * 4, mRs, mCs, (oy as number) + headAt(b, h, S, H, Kv), W * 4,
        (oo as number) + headAt(b, h, T, H, Kv), W * 4);
    }
  }
  const o = (oo as number) / 4;
  return tf.tensor2d(f32.slice(o, o + B * T * W), [B * T, W]);
}

type Inputs = Array<tf.Tensor | tf.GradSaveFunc>;

/** Attention scores before bias: q (B*T, H*Kv), k (B*S, H*Kv) -> (B, H, T, S). */
export function headScores(q: tf.Tensor2D, k: tf.Tensor2D, B: number, T: number, S: number, H: number, impl = defaultHeadImpl()): tf.Tensor4D {
  const op = tf.customGrad((...inputs: Inputs) => {
    const [qi, ki] = inputs as [tf.Tensor2D, tf.Tensor2D];
    (inputs[2] as tf.GradSaveFunc)([qi, ki]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sq, sk] = saved as [tf.Tensor2D, tf.Tensor2D];
      const ds = dy as tf.Tensor4D;                                      // (B, H, T, S)
      return [
        weigh(ds, sk, B, T, S, H, impl),                                  // dq = dS @ k
        weigh(ds, sq, B, S, T, H, impl, true),                            // dk = dS^T @ q
      ];
    };
    return { value: pairDots(qi, ki, B, T, S, H, impl), gradFunc };
  });
  return op(q, k) as tf.Tensor4D;
}

/** Attention output, heads merged: p (B, H, T, S), v (B*S, H*Kv) -> (B*T, H*Kv). */
export function headMix(p: tf.Tensor4D, v: tf.Tensor2D, B: number, T: number, S: number, H: number, impl = defaultHeadImpl()): tf.Tensor2D {
  const op = tf.customGrad((...inputs: Inputs) => {
    const [pi, vi] = inputs as [tf.Tensor4D, tf.Tensor2D];
    (inputs[2] as tf.GradSaveFunc)([pi, vi]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sp, sv] = saved as [tf.Tensor4D, tf.Tensor2D];
      const dY = dy as tf.Tensor2D;                                      // (B*T, H*Kv)
      return [
        pairDots(dY, sv, B, T, S, H, impl),                               // dP = dY @ v^T
        weigh(sp, dY, B, S, T, H, impl, true),                            // dv = P^T @ dY
      ];
    };
    return { value: weigh(pi, vi, B, T, S, H, impl), gradFunc };
  });
  return op(p, v) as tf.Tensor2D;
}

/**
 * a^T @ b for 2-D a (K, M), b (K, N) -> (M, N): a weight gradient X^T dY. On the kernels a is read
 * transposed in place (tfjs-wasm would transpose it first, ~1 GB/s, then run XNNPACK with only M
 * rows); elsewhere tf.transpose then tf.matMul.
 */
export function transposedProduct(a: tf.Tensor2D, b: tf.Tensor2D, impl = defaultHeadImpl()): tf.Tensor2D {
  const [K, M] = a.shape, N = b.shape[1];
  if (b.shape[0] !== K) throw new Error(`transposedProduct: a has ${K} rows, b has ${b.shape[0]}`);
  if (impl === 'tf') return tf.matMul(tf.transpose(a), b);
  const ad = floats(a), bd = floats(b), k = simdKernels();
  const { offsets: [oa, ob, oo], f32 } = layout([ad.length, bd.length, M * N]) as { offsets: number[]; f32: Float32Array };
  f32.set(ad, oa as number / 4);
  f32.set(bd, ob as number / 4);
  k.mm(M, N, K, oa as number, 4, M * 4, ob as number, N * 4, oo as number, N * 4);
  const o = (oo as number) / 4;
  return tf.tensor2d(f32.slice(o, o + M * N), [M, N]);
}
