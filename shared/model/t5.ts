/**
 * T5 encoder-decoder (Raffel et al. 2020; Hugging Face's T5ForConditionalGeneration) as pure
 * functions of a name -> tensor map with Hugging Face's parameter names (layout: params.ts).
 * Dims: B batch, S input length, T target length, D model size, H heads, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import type { T5Config } from './config.js';
import type { ParamLayout } from './params.js';
import {
  attention, dropout, matMul, embeddingLookup, feedForward, positionBias, relativePositionBuckets, rmsNorm,
  type AttentionWeights, type DropoutContext, type FeedForwardWeights,
} from './layers.js';

export type Weights = Map<string, tf.Tensor>;

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

function attentionWeights(w: Weights, prefix: string): AttentionWeights {
  return {
    q: get<tf.Tensor2D>(w, `${prefix}.q.weight`), k: get<tf.Tensor2D>(w, `${prefix}.k.weight`),
    v: get<tf.Tensor2D>(w, `${prefix}.v.weight`), o: get<tf.Tensor2D>(w, `${prefix}.o.weight`),
  };
}

function feedForwardWeights(w: Weights, prefix: string): FeedForwardWeights {
  const p = `${prefix}.DenseReluDense`;
  return w.has(`${p}.wi.weight`)
    ? { wi: get<tf.Tensor2D>(w, `${p}.wi.weight`), wo: get<tf.Tensor2D>(w, `${p}.wo.weight`) }
    : { wi0: get<tf.Tensor2D>(w, `${p}.wi_0.weight`), wi1: get<tf.Tensor2D>(w, `${p}.wi_1.weight`), wo: get<tf.Tensor2D>(w, `${p}.wo.weight`) };
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

/** inputIds (B, S), padded with pad id -> encoder states (B*S, D). */
export function encode(c: T5Config, w: Weights, inputIds: tf.Tensor2D, drop?: DropoutContext): EncoderOutput {
  const [B, S] = inputIds.shape;
  const shared = get<tf.Tensor2D>(w, 'shared.weight');
  let h = dropout(embeddingLookup(shared, inputIds.reshape([B * S]) as tf.Tensor1D), drop);   // (B*S, D)
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

/** decoderInputIds (B, T) (shifted right, starting with the decoder start id) -> logits (B*T, V). */
export function decode(c: T5Config, w: Weights, enc: EncoderOutput, decoderInputIds: tf.Tensor2D, drop?: DropoutContext): tf.Tensor2D {
  const [B, T] = decoderInputIds.shape;
  if (B !== enc.B) throw new Error(`decode: batch ${B} differs from the encoder's ${enc.B}`);
  const shared = get<tf.Tensor2D>(w, 'shared.weight');
  let h = dropout(embeddingLookup(shared, decoderInputIds.reshape([B * T]) as tf.Tensor1D), drop); // (B*T, D)
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
  if (c.tieWordEmbeddings) {
    // tied output layer: rescale as Mesh TensorFlow / Hugging Face do, then project with the embedding
    h = tf.mul(h, c.dModel ** -0.5);
    return matMul(h, tf.transpose(shared));                                                     // (B*T, V)
  }
  return matMul(h, tf.transpose(get<tf.Tensor2D>(w, 'lm_head.weight')));                       // (B*T, V)
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
