/**
 * T5 encoder-decoder (Raffel et al. 2020; Hugging Face's T5ForConditionalGeneration) as pure
 * functions of a name -> tensor map with Hugging Face's parameter names (layout: params.ts).
 * Dims: B batch, S input length, T target length, D model size, H heads, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import type { T5Config } from './config.js';
import type { ParamLayout } from './params.js';
import {
  attention, dropout, frozenMatMul, embeddingLookup, vocabLogits, feedForward, positionBias, relativePositionBuckets, rmsNorm,
  type AttentionWeights, type BaseWeight, type DropoutContext, type FeedForwardWeights, type Projection,
} from './layers.js';
import { loraTensorNames } from './lora.js';

/**
 * Every float tensor of the model by Hugging Face name. A LoRA/QLoRA model also holds its adapters
 * (PEFT's names, `….q.lora_A.weight`) and `adapted`: how its Linear projections run.
 */
export type Weights = Map<string, tf.Tensor> & { adapted?: AdaptedLinears };

/** LoRA/QLoRA: base weights frozen, adapter settings, and the base weights held quantised (not in the map). */
export interface AdaptedLinears {
  frozen: boolean;                                  // base weights get no gradient (no dW products)
  loraScale: number;                                // alpha / r
  loraDropout: number;                              // on adapter inputs, in training
  quantized: ReadonlyMap<string, () => tf.Tensor2D>; // `….weight` -> dequantise to (Din, Dout) (QLoRA)
}

/** Tensors for every parameter, viewed from the flat master buffer (one upload per parameter). */
export function weightsFromFlat(layout: ParamLayout, flat: Float32Array): Weights {
  const w: Weights = new Map();
  for (const s of layout.specs) w.set(s.name, tf.tensor(flat.subarray(s.offset, s.offset + s.size), s.shape, 'float32'));
  return w;
}

function get<T extends tf.Tensor>(w: Weights, name: string): T {
  const t = w.get(name);
  if (!t) throw new Error(`T5 weights: missing parameter '${name}'`);
  return t as T;
}

/** The Linear module `name` (e.g. 'encoder.block.0.layer.0.SelfAttention.q'): its base weight and LoRA adapter. */
function projection(w: Weights, name: string): Projection {
  const ad = w.adapted;
  const dequantize = ad?.quantized.get(`${name}.weight`);
  const base: BaseWeight = dequantize ? { kind: 'quantized', dequantize }
    : { kind: ad?.frozen ? 'frozen' : 'trainable', w: get<tf.Tensor2D>(w, `${name}.weight`) };
  const names = loraTensorNames(name);
  const a = w.get(names.a) as tf.Tensor2D | undefined, b = w.get(names.b) as tf.Tensor2D | undefined;
  return ad && a && b ? { base, lora: { a, b, scale: ad.loraScale, dropout: ad.loraDropout } } : { base };
}

function attentionWeights(w: Weights, prefix: string): AttentionWeights {
  return {
    q: projection(w, `${prefix}.q`), k: projection(w, `${prefix}.k`),
    v: projection(w, `${prefix}.v`), o: projection(w, `${prefix}.o`),
  };
}

function feedForwardWeights(w: Weights, prefix: string): FeedForwardWeights {
  const p = `${prefix}.DenseReluDense`;
  return w.has(`${p}.wi.weight`) || w.adapted?.quantized.has(`${p}.wi.weight`)
    ? { wi: projection(w, `${p}.wi`), wo: projection(w, `${p}.wo`) }
    : { wi0: projection(w, `${p}.wi_0`), wi1: projection(w, `${p}.wi_1`), wo: projection(w, `${p}.wo`) };
}

/** Additive mask bias: 0 where attended, -1e9 where masked. */
const MASKED = -1e9;

/** (B, S) padding mask -> (B, 1, 1, S) bias. */
function paddingBias(inputIds: tf.Tensor2D, padId: number): tf.Tensor4D {
  const [B, S] = inputIds.shape;
  return tf.mul(tf.cast(tf.equal(inputIds, padId), 'float32'), MASKED).reshape([B, 1, 1, S]) as tf.Tensor4D;
}

/** (1, 1, T, T) bias that hides future positions. */
function causalBias(T: number): tf.Tensor4D {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = MASKED;
  return tf.tensor4d(m, [1, 1, T, T]);
}

export interface EncoderOutput {
  hidden: tf.Tensor2D;   // (B*S, D)
  bias: tf.Tensor4D;     // (B, 1, 1, S) padding bias, reused by cross-attention
  B: number;
  S: number;
}

/**
 * inputIds (B, S), padded with pad id -> encoder states (B*S, D). `embedded`: their (B*S, D) rows
 * of the shared table when the caller looked them up itself (see embedBoth).
 */
export function encode(c: T5Config, w: Weights, inputIds: tf.Tensor2D, drop?: DropoutContext, embedded?: tf.Tensor2D): EncoderOutput {
  const [B, S] = inputIds.shape;
  const rows = embedded ?? embeddingLookup(get<tf.Tensor2D>(w, 'shared.weight'), inputIds.reshape([B * S]) as tf.Tensor1D);
  let h = dropout(rows, drop);                                                                 // (B*S, D)
  const pad = paddingBias(inputIds, c.padTokenId);                                             // (B, 1, 1, S)
  const buckets = relativePositionBuckets(S, S, true, c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance);
  // Hugging Face computes the relative position bias in block 0 and shares it with every block
  const bias = tf.add(positionBias(get(w, 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), buckets, S, S), pad) as tf.Tensor4D; // (B, H, S, S)
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.block.${i}.layer`;
    const n0 = rmsNorm(h, get(w, `${p}.0.layer_norm.weight`), c.layerNormEpsilon);
    h = tf.add(h, dropout(attention(attentionWeights(w, `${p}.0.SelfAttention`), n0, n0, bias, B, S, S, c.numHeads, drop), drop));
    const n1 = rmsNorm(h, get(w, `${p}.1.layer_norm.weight`), c.layerNormEpsilon);
    h = tf.add(h, dropout(feedForward(feedForwardWeights(w, `${p}.1`), n1, drop), drop));
  }
  const hidden = dropout(rmsNorm(h, get(w, 'encoder.final_layer_norm.weight'), c.layerNormEpsilon), drop);
  return { hidden, bias: pad, B, S };
}

/**
 * The decoder's output layer restricted to some vocabulary rows (a DSI model's docid tokens and </s>):
 * logits (B*T, R) instead of (B*T, V). The softmax over them is the full softmax restricted to those
 * rows; for atomic docids over 1,000 documents R = 1,001 against V = 33,128.
 */
export interface OutputRows {
  ids: tf.Tensor1D;      // (R,) vocabulary ids, in the logits' column order
  rows?: tf.Tensor2D;    // (R, D) their rows of the shared table, when the caller looked them up (embedBoth)
}

/**
 * decoderInputIds (B, T) (shifted right, starting with the decoder start id) -> logits (B*T, V), or
 * (B*T, R) with `output`. `embedded`: their (B*T, D) rows of the shared table when the caller looked
 * them up (embedBoth).
 */
export function decode(
  c: T5Config, w: Weights, enc: EncoderOutput, decoderInputIds: tf.Tensor2D, drop?: DropoutContext, embedded?: tf.Tensor2D,
  output?: OutputRows,
): tf.Tensor2D {
  const [B, T] = decoderInputIds.shape;
  if (B !== enc.B) throw new Error(`decode: batch ${B} differs from the encoder's ${enc.B}`);
  const shared = get<tf.Tensor2D>(w, 'shared.weight');
  const rows = embedded ?? embeddingLookup(shared, decoderInputIds.reshape([B * T]) as tf.Tensor1D);
  let h = dropout(rows, drop);                                                                 // (B*T, D)
  const buckets = relativePositionBuckets(T, T, false, c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance);
  const selfBias = tf.add(positionBias(get(w, 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), buckets, T, T), causalBias(T)) as tf.Tensor4D; // (1, H, T, T)
  for (let i = 0; i < c.numDecoderLayers; i++) {
    const p = `decoder.block.${i}.layer`;
    const n0 = rmsNorm(h, get(w, `${p}.0.layer_norm.weight`), c.layerNormEpsilon);
    h = tf.add(h, dropout(attention(attentionWeights(w, `${p}.0.SelfAttention`), n0, n0, selfBias, B, T, T, c.numHeads, drop), drop));
    const n1 = rmsNorm(h, get(w, `${p}.1.layer_norm.weight`), c.layerNormEpsilon);
    h = tf.add(h, dropout(attention(attentionWeights(w, `${p}.1.EncDecAttention`), n1, enc.hidden, enc.bias, B, T, enc.S, c.numHeads, drop), drop));
    const n2 = rmsNorm(h, get(w, `${p}.2.layer_norm.weight`), c.layerNormEpsilon);
    h = tf.add(h, dropout(feedForward(feedForwardWeights(w, `${p}.2`), n2, drop), drop));
  }
  h = dropout(rmsNorm(h, get(w, 'decoder.final_layer_norm.weight'), c.layerNormEpsilon), drop);   // (B*T, D)
  // tied output layer: rescale as Mesh TensorFlow / Hugging Face do, then project with the embedding
  if (c.tieWordEmbeddings) h = tf.mul(h, c.dModel ** -0.5);
  const table = c.tieWordEmbeddings ? shared : get<tf.Tensor2D>(w, 'lm_head.weight');           // (V, D)
  const head = !output ? table : (c.tieWordEmbeddings ? output.rows : undefined) ?? embeddingLookup(table, output.ids); // (V or R, D)
  // frozen (LoRA): no (V, D) gradient product, the largest of the step for a T5 vocabulary. The
  // restricted rows are a temporary of this pass, gone before the backward one re-reads a lazy
  // transpose: their (R, D) product goes through tf.matMul, whose gradient reaches h only
  if (w.adapted?.frozen) return output ? tf.matMul(h, head, false, true) : frozenMatMul(h, () => tf.transpose(head), true); // (B*T, V or R)
  return vocabLogits(h, head);                                                                 // (B*T, V or R)
}

/**
 * Encoder and decoder input rows of the shared table from one lookup (and the restricted output
 * layer's rows, `outputIds`, when given): in training its gradient is then one scatter into a (V, D)
 * tensor instead of two or three, and fewer (V, D) sums (~20 ms each on wasm for t5-tiny, whose
 * vocabulary dominates its parameters).
 */
export function embedBoth(w: Weights, inputIds: tf.Tensor2D, decoderInputIds: tf.Tensor2D, outputIds?: tf.Tensor1D): tf.Tensor2D[] {
  const sizes = [inputIds.size, decoderInputIds.size, ...(outputIds ? [outputIds.size] : [])];
  const ids = tf.concat([inputIds.reshape([inputIds.size]), decoderInputIds.reshape([decoderInputIds.size]), ...(outputIds ? [outputIds] : [])]) as tf.Tensor1D;
  const rows = embeddingLookup(get<tf.Tensor2D>(w, 'shared.weight'), ids);                   // (B*S + B*T [+ R], D)
  return tf.split(rows, sizes) as tf.Tensor2D[];
}

/** labels (B, T) -> decoder inputs (B, T): shifted right by one, starting with the decoder start id. */
export function shiftRight(labels: Int32Array, B: number, T: number, startId: number): Int32Array {
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    out[b * T] = startId;
    for (let t = 1; t < T; t++) out[b * T + t] = labels[b * T + t - 1] as number;
  }
  return out;
}
