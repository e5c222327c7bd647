/**
 * Teacher-forced token cross-entropy with a fused gradient (softmax - one-hot), averaged over the
 * target tokens that are not padding.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * logits (N, V), labels (N,) int32, weights (N,) 1 for real tokens and 0 for padding
 * -> scalar mean cross-entropy over the weighted tokens.
 * test/gradients.test.ts proves the fused gradient equal to tf's own gradient of the plain form.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  const V = logits.shape[1];
  // labels and weights are inputs (not closed over) so the tape keeps them alive for the gradient
  const ce = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y, w] = inputs as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];     // (N, V), (N,), (N,)
    (inputs[3] as tf.GradSaveFunc)([x, y, w]);
    const count = tf.maximum(tf.sum(w), 1);
    const logZ = tf.logSumExp(x, 1);                                         // (N,)
    const picked = tf.sum(tf.mul(x, tf.oneHot(y, V)), 1);                    // (N,)
    const value = tf.div(tf.sum(tf.mul(tf.sub(logZ, picked), w)), count) as tf.Scalar;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, sy, sw] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
      const scale = tf.mul(dy, tf.div(sw, tf.maximum(tf.sum(sw), 1))).expandDims(1); // (N, 1)
      const dx = tf.mul(tf.sub(tf.softmax(sx), tf.oneHot(sy, V)), scale);    // (N, V)
      return [dx, tf.zerosLike(sy), tf.zerosLike(sw)];
    };
    return { value, gradFunc };
  });
  return ce(logits, labels, weights) as tf.Scalar;
}

/** The same loss in plain tf ops (reference for the gradient test). */
export function crossEntropyReference(logits: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(labels, logits.shape[1])), 1);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}
