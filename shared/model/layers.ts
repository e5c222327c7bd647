/**
 * The building blocks of T5, as functions of tensors (no layer objects): each runs inside the
 * caller's tf.tidy. Activations stay 2-D (B*T, D) between blocks so that every projection is one
 * 2-D matMul, the fast path on wasm (DEVELOPERS.md). Dims: B batch, T query length, S key length,
 * D model size, H heads, Kv per-head size, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import { defaultHeadImpl, headMix, headScores, transposedProduct } from './head_products.js';
import { dropoutMultipliers } from './dropout_masks.js';

/**
 * Rows of `table` at `ids`, with a scatter-add gradient: tf.gather's own gradient needs
 * UnsortedSegmentSum, which the wasm backend lacks. test/gradients.test.ts proves it equal to
 * tf.gather's gradient on the cpu backend.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  // ids is an input (not closed over) so the tape keeps it alive until the backward pass
  const lookup = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, i] = inputs as [tf.Tensor2D, tf.Tensor1D];                  // (V, D), (N,)
    (inputs[2] as tf.GradSaveFunc)([i]);
    const value = defaultHeadImpl() === 'simd' ? gatherRows(t, i) : tf.gather(t, i);   // (N, D)
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const si = saved[0] as tf.Tensor1D;                                 // dy (N, D) -> (V, D); repeated ids add up
      return [tf.scatterND(si.expandDims(1), dy, t.shape), tf.zerosLike(si)];
    };
    return { value, gradFunc };
  });
  return lookup(table, ids) as tf.Tensor2D;
}

/** tf.gather(table, ids) for tensors in JS-reachable memory: row copies, ~3x faster than tfjs-wasm's GatherV2. */
function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const [V, D] = table.shape;
  const t = table.dataSync() as Float32Array, id = ids.dataSync();
  const out = new Float32Array(id.length * D);
  for (let n = 0; n < id.length; n++) {
    const row = id[n] as number;
    if (!(row >= 0 && row < V)) throw new RangeError(`embedding lookup: id ${row} at position ${n} is outside the table's ${V} rows`);
    out.set(t.subarray(row * D, row * D + D), n * D);
  }
  return tf.tensor2d(out, [id.length, D]);
}

/**
 * a @ b for 2-D (M, K) @ (K, N) or batched 3-D (G, M, K) @ (G, K, N), with a gradient that uses
 * explicit transposes: tf.matMul's own gradient calls matMul with transposeA/B flags, ~10-30x
 * slower on wasm than a transpose followed by a plain matMul. For 2-D, dB = A^T dY runs on the
 * SIMD kernel, which reads A transposed in place (head_products.ts transposedProduct). Proved equal to tf's gradient on
 * the cpu backend in test/gradients.test.ts.
 */
export function matMul<R extends tf.Rank.R2 | tf.Rank.R3>(a: tf.Tensor<R>, b: tf.Tensor<R>): tf.Tensor<R> {
  const swapLast = a.rank === 2 ? [1, 0] : [0, 2, 1];
  const mm = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y] = inputs as [tf.Tensor, tf.Tensor];
    (inputs[2] as tf.GradSaveFunc)([x, y]);
    const value = tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, sy] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [
        tf.matMul(dy as tf.Tensor3D, tf.transpose(sy, swapLast)),   // dA = dY @ B^T
        a.rank === 2 ? transposedProduct(sx as tf.Tensor as tf.Tensor2D, dy as tf.Tensor2D)   // dB = A^T @ dY
          : tf.matMul(tf.transpose(sx, swapLast), dy as tf.Tensor3D),
      ];
    };
    return { value, gradFunc };
  });
  return mm(a, b) as tf.Tensor<R>;
}


/**
 * Output logits h @ table^T for a (V, D) table in Hugging Face's layout (tied embedding or
 * lm_head), V the large side. Every product puts the (V, D) operand where tfjs-wasm's XNNPACK path
 * is fastest (the many-rows side, or as is): logits^T = table @ h^T, dh = dY @ table (no transpose
 * of the table at all), dTable = dY^T @ h with dY read transposed in place. The generic matMul on
 * table^T transposed the (V, D) table twice more. Proved equal to tf's gradient in gradients.test.ts.
 */
export function vocabLogits(h: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, t] = inputs as [tf.Tensor2D, tf.Tensor2D];                  // (N, D), (V, D)
    (inputs[2] as tf.GradSaveFunc)([x, t]);
    const value = tf.transpose(tf.matMul(t, tf.transpose(x)));            // (N, V)
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, st] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D;                                        // (N, V)
      // tf.transpose of the (N, V) gradient then XNNPACK: 13 + 28 ms of a t5-tiny step on wasm; in place ~20-35 ms
      return [tf.matMul(d, st), transposedProduct(d, sx)];                // (N, D), (V, D)
    };
    return { value, gradFunc };
  });
  return op(h, table) as tf.Tensor2D;
}

/**
 * T5's RMS norm: no mean subtraction, no bias. (N, D) -> (N, D). With y = w * x * r, r = rsqrt(mean(x^2) + eps):
 * dx = r * (g - xn * mean(g * xn)) for g = dy * w, xn = x * r, and dw = the column sums of dy * xn, taken as
 * ones(1, N) @ (dy * xn): tf's own gradient sums over axis 0, which tfjs-wasm does by transposing first (10
 * norms: ~12 ms of a t5-tiny step). Proved equal to tf's gradient in gradients.test.ts.
 */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const op = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, w] = inputs as [tf.Tensor2D, tf.Tensor1D];
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xi), -1, true), eps));  // (N, 1)
    const xn = tf.mul(xi, r);                                            // (N, D)
    (inputs[2] as tf.GradSaveFunc)([xn, r, w]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sxn, sr, sw] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const g = tf.mul(dy, sw);                                          // (N, D)
      const dx = tf.mul(sr, tf.sub(g, tf.mul(sxn, tf.mean(tf.mul(g, sxn), -1, true))));
      const dw = tf.matMul(tf.ones([1, sxn.shape[0]]), tf.mul(dy, sxn)).reshape([-1]);   // (1, N) @ (N, D) -> (D)
      return [dx, dw];
    };
    return { value: tf.mul(xn, w), gradFunc };
  });
  return op(x, weight) as tf.Tensor2D;
}

/**
 * Where dropout draws its masks: one key per example of the batch (its row order), and the call
 * sites counted through one forward pass, so runs repeat exactly and an example's masks do not
 * depend on its batch (dropout_masks.ts).
 */
export interface DropoutContext {
  rate: number;
  /** One key per batch row: the trainer's mix of the seed and the example's global position. */
  rowKeys: Uint32Array;
  calls: number;
}

/** Dropout at the context's rate, or at `rate` (LoRA's own) with the context's keys; none outside training. */
export function dropout<T extends tf.Tensor>(x: T, ctx: DropoutContext | undefined, rate = ctx?.rate ?? 0): T {
  if (!ctx || rate === 0) return x;
  ctx.calls += 1;
  return tf.mul(x, tf.tensor(dropoutMultipliers(x.shape, ctx.rowKeys, ctx.calls, rate), x.shape, 'float32')) as T;
}

/**
 * x @ W for a frozen W (the base weights under LoRA): the gradient flows to x only, dX = dY @ W^T,
 * so the backward pass skips the dW product that full fine-tuning pays for. `weight()` gives W;
 * with `owned`, each W it returns is disposed right after its matMul, so a dequantised (QLoRA)
 * weight lives only during its own product and is rebuilt for the backward pass.
 */
export function frozenMatMul(x: tf.Tensor2D, weight: () => tf.Tensor2D, owned: boolean): tf.Tensor2D {
  const mm = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xi = inputs[0] as tf.Tensor2D;                                  // (N, Din)
    const w = weight();                                                   // (Din, Dout)
    const value = tf.matMul(xi, w);                                       // (N, Dout)
    if (owned) w.dispose();
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const wb = weight();
      const wT = tf.transpose(wb);                                        // (Dout, Din)
      const dx = tf.matMul(dy as tf.Tensor2D, wT);                        // (N, Din)
      wT.dispose();
      if (owned) wb.dispose();
      return [dx];
    };
    return { value, gradFunc };
  });
  return mm(x) as tf.Tensor2D;
}

/** How a Linear projection's base weight (Din, Dout) is held. */
export type BaseWeight =
  | { kind: 'trainable'; w: tf.Tensor2D }               // full fine-tuning: gets a gradient
  | { kind: 'frozen'; w: tf.Tensor2D }                  // LoRA: no gradient, no dW product
  | { kind: 'quantized'; dequantize: () => tf.Tensor2D }; // QLoRA: NF4, a fresh float tensor per use

/** A LoRA adapter: y += scale * dropout(x) @ a @ b (PEFT's B A x, in our (in, out) layout). */
export interface LoraAdapter {
  a: tf.Tensor2D;        // (Din, r): PEFT's lora_A (r, Din) transposed
  b: tf.Tensor2D;        // (r, Dout): PEFT's lora_B (Dout, r) transposed
  scale: number;         // alpha / r
  dropout: number;       // on the adapter's input only
}

/** One Linear projection of the model: base weight and, with LoRA, its adapter. */
export interface Projection {
  base: BaseWeight;
  lora?: LoraAdapter;
}

/** (N, Din) -> (N, Dout): x W, plus the LoRA path when the projection has an adapter. */
export function project(p: Projection, x: tf.Tensor2D, drop?: DropoutContext): tf.Tensor2D {
  const base = p.base;
  const y = base.kind === 'trainable' ? matMul(x, base.w)
    : base.kind === 'frozen' ? frozenMatMul(x, () => base.w, false)
      : frozenMatMul(x, base.dequantize, true);                          // (N, Dout)
  if (!p.lora) return y;
  const { a, b, scale } = p.lora;
  const low = tf.mul(matMul(dropout(x, drop, p.lora.dropout), a), scale) as tf.Tensor2D;   // (N, r)
  return tf.add(y, matMul(low, b));                                       // (N, Dout)
}

/** Hugging Face's gelu_new (tanh approximation), used by gated-gelu (T5 v1.1). */
export function geluNew(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

export interface FeedForwardWeights {
  wi?: Projection;      // relu:       (D, F)
  wi0?: Projection;     // gated-gelu: (D, F), through gelu
  wi1?: Projection;     // gated-gelu: (D, F), linear gate
  wo: Projection;       // (F, D)
}

/** (N, D) -> (N, D): relu (T5 v1.0) or gated-gelu (T5 v1.1), dropout on the hidden layer. */
export function feedForward(w: FeedForwardWeights, x: tf.Tensor2D, drop?: DropoutContext): tf.Tensor2D {
  let h: tf.Tensor2D;                                              // (N, F)
  if (w.wi) h = tf.relu(project(w.wi, x, drop));
  else if (w.wi0 && w.wi1) h = tf.mul(geluNew(project(w.wi0, x, drop)), project(w.wi1, x, drop));
  else throw new Error('feed-forward weights: need wi (relu) or wi_0 and wi_1 (gated-gelu)');
  return project(w.wo, dropout(h, drop), drop);
}

export interface AttentionWeights {
  q: Projection; k: Projection; v: Projection;      // (D, H*Kv)
  o: Projection;                                    // (H*Kv, D)
}

/**
 * Multi-head attention without T5's absent 1/sqrt(Kv) scaling (folded into q's init). Heads stay in
 * the projections' (tokens, H*Kv) layout: head_products.ts reads them in place.
 * x (B*T, D) attends over mem (B*S, D); `bias` (B|1, H|1, T|1, S) holds relative positions and masks.
 */
export function attention(
  w: AttentionWeights, x: tf.Tensor2D, mem: tf.Tensor2D, bias: tf.Tensor4D,
  B: number, T: number, S: number, H: number, drop?: DropoutContext,
): tf.Tensor2D {
  const q = project(w.q, x, drop);                                        // (B*T, H*Kv)
  const k = project(w.k, mem, drop);                                      // (B*S, H*Kv)
  const v = project(w.v, mem, drop);                                      // (B*S, H*Kv)
  const scores = tf.add(headScores(q, k, B, T, S, H), bias);             // (B, H, T, S)
  const probs = dropout(tf.softmax(scores), drop) as tf.Tensor4D;
  const merged = headMix(probs, v, B, T, S, H);                           // (B*T, H*Kv)
  return project(w.o, merged, drop);                                       // (B*T, D)
}

/**
 * Hugging Face's T5Attention._relative_position_bucket for every (query i, key j) pair,
 * relative position = j - i. Computed in JS (integers only) and cached by the caller.
 */
export function relativePositionBuckets(
  T: number, S: number, bidirectional: boolean, numBuckets: number, maxDistance: number, queryOffset = 0,
): Int32Array {
  const out = new Int32Array(T * S);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < S; j++) {
      let rel = j - (i + queryOffset);
      let bucket = 0;
      let n = numBuckets;
      if (bidirectional) {
        n = Math.floor(n / 2);
        if (rel > 0) bucket += n;
        rel = Math.abs(rel);
      } else {
        rel = -Math.min(rel, 0);
      }
      const maxExact = Math.floor(n / 2);
      if (rel < maxExact) bucket += rel;
      else {
        // float32 in torch: log(rel / maxExact) / log(maxDistance / maxExact) * (n - maxExact), truncated
        const large = maxExact + Math.trunc(
          Math.fround(Math.fround(Math.log(Math.fround(rel / maxExact))) / Math.fround(Math.log(maxDistance / maxExact)) * (n - maxExact)));
        bucket += Math.min(large, n - 1);
      }
      out[i * S + j] = bucket;
    }
  }
  return out;
}

/** (numBuckets, H) table at the buckets -> (1, H, T, S) additive bias. */
export function positionBias(table: tf.Tensor2D, buckets: Int32Array, T: number, S: number): tf.Tensor4D {
  const H = table.shape[1];
  const rows = embeddingLookup(table, tf.tensor1d(buckets, 'int32'));   // (T*S, H)
  return rows.reshape([T, S, H]).transpose([2, 0, 1]).expandDims(0) as tf.Tensor4D;
}
