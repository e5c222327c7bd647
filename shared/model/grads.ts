/**
 * Loss and gradients of one micro-batch, written into a fused flat buffer laid out like the
 * parameters (params.ts), ready for accumulation, all-reduce and the optimizer.
 */
import * as tf from '@tensorflow/tfjs';
import type { T5Config } from './config.js';
import type { ParamLayout } from './params.js';
import { decode, embedBoth, encode, shiftRight, type Weights } from './t5.js';
import { crossEntropy } from './loss.js';
import type { DropoutContext } from './layers.js';

/** A padded micro-batch of token ids (row-major). Label 0 (pad) positions carry no loss. */
export interface TokenBatch {
  inputIds: Int32Array;   // (B, S)
  labels: Int32Array;     // (B, T), ends with </s>, padded with 0
  B: number;
  S: number;
  T: number;
}

/**
 * The decoder's output restricted to these vocabulary ids (docid tokens and </s>; t5.ts OutputRows).
 * The loss is then the cross-entropy of the softmax over these rows only: the full-vocabulary loss
 * restricted to them (tested equal, gradient too). Every label must be one of them.
 */
export class OutputVocabulary {
  /** Vocabulary id -> column of the restricted logits, -1 outside. */
  private readonly column: Int32Array;

  constructor(readonly ids: Int32Array, vocabSize: number) {
    this.column = new Int32Array(vocabSize).fill(-1);
    ids.forEach((id, col) => {
      if (!(id >= 0 && id < vocabSize)) throw new RangeError(`output vocabulary: id ${id} outside the model's ${vocabSize} rows`);
      this.column[id] = col;
    });
  }

  /** Column of vocabulary id `id`, -1 when it is not an output. */
  columnOf(id: number): number {
    return this.column[id] ?? -1;
  }

  /** labels (B*T) as columns; padding (which carries no loss) maps to column 0. */
  columns(labels: Int32Array, padId: number): Int32Array {
    return labels.map((l, i) => {
      if (l === padId) return 0;
      const col = this.columnOf(l);
      if (col < 0) throw new RangeError(`label ${l} at position ${i} is not one of the ${this.ids.length} output tokens (docid tokens and </s>): train with the full vocabulary (--decoder-output vocab) when targets are text`);
      return col;
    });
  }
}

/** Teacher-forced loss of a batch for the given weights; runs inside the caller's tidy. */
export function batchLoss(c: T5Config, w: Weights, batch: TokenBatch, drop?: DropoutContext, output?: OutputVocabulary, labelSmoothing = 0): tf.Scalar {
  const { B, S, T } = batch;
  const inputIds = tf.tensor2d(batch.inputIds, [B, S], 'int32');
  const decoderInputIds = tf.tensor2d(shiftRight(batch.labels, B, T, c.decoderStartTokenId), [B, T], 'int32');
  const outputIds = output ? tf.tensor1d(output.ids, 'int32') : undefined;          // (R,)
  const [encRows, decRows, outRows] = embedBoth(w, inputIds, decoderInputIds, outputIds);
  const enc = encode(c, w, inputIds, drop, encRows);
  const logits = decode(c, w, enc, decoderInputIds, drop, decRows,
    outputIds ? { ids: outputIds, ...(outRows ? { rows: outRows } : {}) } : undefined);  // (B*T, V or R)
  const labels = tf.tensor1d(batch.labels, 'int32');                              // (B*T,)
  const weights = tf.cast(tf.notEqual(labels, c.padTokenId), 'float32') as tf.Tensor1D;
  const targets = output ? tf.tensor1d(output.columns(batch.labels, c.padTokenId), 'int32') : labels;
  return crossEntropy(logits, targets, weights, labelSmoothing);
}

export interface LossAndGrads {
  loss: number;
  /** Bytes in tensors while the weights and all gradients were alive. */
  tensorBytes: number;
  /** Tokens that carried loss (non-pad labels). */
  tokens: number;
}

/** One of the length groups of a micro-batch, with its share of the loss (trainer: its target tokens' share). */
export interface WeightedBatch {
  batch: TokenBatch;
  weight: number;
  drop?: DropoutContext;
}

/**
 * Told the moment parameter `index` (of layout.specs) has its whole gradient for this micro-batch
 * added into gradOut. On wasm and cpu that happens inside the backward pass, as soon as the last op
 * that reads the parameter has its gradient (the decoder's last layers first, the shared embedding
 * last): the trainer hands finished buckets to the all-reduce while the rest is computed.
 */
export type GradientDone = (index: number) => void;

/**
 * Adds this micro-batch's gradient, times `scale`, into `gradOut` (flat, same layout as the
 * parameters) and returns its loss. `weights` are the current parameter tensors; the names in
 * `layout` get gradients (LoRA: the adapters' layout, the frozen base gets none).
 */
export async function accumulateGradients(
  c: T5Config, layout: ParamLayout, weights: Weights, batch: TokenBatch, scale: number,
  gradOut: Float32Array, drop?: DropoutContext, output?: OutputVocabulary, done?: GradientDone,
): Promise<LossAndGrads> {
  return accumulate(c, layout, weights, [{ batch, weight: 1, ...(drop ? { drop } : {}) }], scale, gradOut, output, 0, done);
}

/** Backends whose reads are synchronous copies out of CPU memory: gradients are read inside the backward pass. */
const READ_IN_BACKWARD = new Set(['wasm', 'cpu']);

/**
 * The gradient of sum_b weight_b x loss_b over the groups of one micro-batch (each padded to its own
 * length), added into `gradOut`; returns that weighted sum. One backward pass and one read of the
 * gradients for all groups: reading and adding the (V, D) table's gradient once per group cost ~12 ms each.
 */
export async function accumulateWeightedGradients(
  c: T5Config, layout: ParamLayout, weights: Weights, groups: readonly WeightedBatch[], gradOut: Float32Array, output?: OutputVocabulary,
  labelSmoothing = 0, done?: GradientDone,
): Promise<LossAndGrads> {
  return accumulate(c, layout, weights, groups, 1, gradOut, output, labelSmoothing, done);
}

/**
 * An identity on `x` whose backward hands `take` the complete gradient of x. Applied where x is
 * first read, it sits on the tape before every op that reads x, so the reverse pass reaches it just
 * after the last of them: the gradient is final there, long before the pass ends.
 */
function gradientTap(x: tf.Tensor, take: (dy: tf.Tensor) => void): tf.Tensor {
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: (inputs[0] as tf.Tensor).clone(),        // shares the data: no copy
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
      const g = Array.isArray(dy) ? dy[0] as tf.Tensor : dy;
      take(g);
      return [g];
    },
  }))(x);
}

async function accumulate(
  c: T5Config, layout: ParamLayout, weights: Weights, groups: readonly WeightedBatch[], scale: number,
  gradOut: Float32Array, output?: OutputVocabulary, labelSmoothing = 0, done?: GradientDone,
): Promise<LossAndGrads> {
  const names = layout.specs.map((s) => s.name);
  const params = names.map((n) => weights.get(n) as tf.Tensor);
  const added = new Uint8Array(names.length);   // 1: parameter i's gradient is in gradOut
  const accumulateInto = (i: number, data: Float32Array): void => {
    const spec = layout.specs[i] as (typeof layout.specs)[number];
    const out = gradOut.subarray(spec.offset, spec.offset + spec.size);
    for (let j = 0; j < data.length; j++) out[j] = (out[j] as number) + (data[j] as number) * scale;
    added[i] = 1;
    done?.(i);
  };
  // wasm, cpu: each gradient is read (a JS copy) and added the moment it is final, inside the backward
  // pass, one at a time: a step never holds a JS copy of every gradient at once (t5-small: 240 MB)
  const inBackward = READ_IN_BACKWARD.has(tf.getBackend());
  const index = new Map(names.map((n, i) => [n, i]));
  const { value, grads } = tf.tidy(() => {
    const f = (...xs: tf.Tensor[]): tf.Scalar => {
      // the trainable names read the differentiated tensors xs (tapped on wasm/cpu), the rest `weights`' own
      const w = swappedWeights(weights, (n) => {
        const i = index.get(n);
        if (i === undefined) return undefined;
        const x = xs[i] as tf.Tensor;
        return inBackward ? gradientTap(x, (dy) => accumulateInto(i, dy.dataSync() as Float32Array)) : x;
      });
      const losses = groups.map((g) => tf.mul(batchLoss(c, w, g.batch, g.drop, output, labelSmoothing), g.weight) as tf.Scalar);
      return (losses.length === 1 ? losses[0] : tf.addN(losses)) as tf.Scalar;
    };
    return tf.valueAndGrads(f)(params);
  });
  // weights and every gradient are alive here: the step's high-water mark of tensor memory
  const tensorBytes = tf.memory().numBytes;
  // sync point: the loss leaves the backend. Read asynchronously: the webgpu backend cannot read
  // synchronously in Node (it needs OffscreenCanvas), so its gradients are read here, in one batch
  const loss = ((await value.data()) as Float32Array)[0] ?? NaN;
  const unread = grads.map((g, i) => (added[i] ? undefined : g));
  // a parameter the forward pass never read (its gradient is zeros) or a GPU backend: read now
  const read = await Promise.all(unread.map((t) => t?.data() as Promise<Float32Array> | undefined));
  read.forEach((data, i) => { if (data) accumulateInto(i, data); });
  tf.dispose([value, ...grads]);
  let tokens = 0;
  for (const g of groups) for (const l of g.batch.labels) if (l !== c.padTokenId) tokens++;
  return { loss, tokens, tensorBytes };
}

/**
 * `weights` with the trainable tensors swapped for what `swap(name)` gives (undefined: keep the
 * original), each made at its first read: a tap then sits on the tape just before the parameter's
 * first use. LoRA settings (`adapted`) travel with the copy. A tap made inside an
 * inner tf.tidy would be disposed with it; the model's functions have none (layers.ts: they run in
 * the caller's tidy).
 */
function swappedWeights(weights: Weights, swap: (name: string) => tf.Tensor | undefined): Weights {
  const made = new Map<string, tf.Tensor | undefined>();
  class Swapped extends Map<string, tf.Tensor> {
    override get(name: string): tf.Tensor | undefined {
      if (!made.has(name)) made.set(name, swap(name));
      return made.get(name) ?? super.get(name);
    }
  }
  return Object.assign(new Swapped(weights), { adapted: weights.adapted });
}
