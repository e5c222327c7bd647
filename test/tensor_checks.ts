/** Comparisons the gradient and kernel tests share. */
import * as tf from '@tensorflow/tfjs';

/** Largest absolute elementwise difference of two tensors of one shape. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Parameters whose gradients the finite-difference checks probe: one of each kind in T5. */
export const GRADIENT_PROBES = [
  'shared.weight', 'encoder.block.0.layer.0.SelfAttention.q.weight', 'decoder.block.0.layer.1.EncDecAttention.v.weight',
  'decoder.block.0.layer.2.DenseReluDense.wi_0.weight', 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'lm_head.weight',
];
