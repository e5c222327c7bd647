/**
 * Teacher-forced token cross-entropy with a fused gradient (softmax - one-hot), averaged over the
 * target tokens that are not padding. The logits are (tokens, vocabulary): every pass over them
 * costs ~10 ms on wasm for t5-tiny's batch, so the loss makes as few as it can.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * logits (N, V), labels (N,) int32, weights (N,) 1 for real tokens and 0 for padding
 * -> scalar mean cross-entropy over the weighted tokens. With `smoothing` e the target is
 * (1 - e) one-hot + e / V (Szegedy et al. 2016): loss = log Z - ((1 - e) x_y + e mean(x)).
 * test/gradients.test.ts proves the fused gradient equal to tf's own gradient of the plain form.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D, smoothing = 0): tf.Scalar {
  const [N, V] = logits.shape;
  // labels and weights are inputs (not closed over) so the tape keeps them alive for the gradient
  const ce = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y, w] = inputs as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];     // (N, V), (N,), (N,)
    // One softmax serves the loss and the gradient. log Z = max + log sum exp(x - max), and the
    // softmax's largest entry is exp(0) / sum exp(x - max), so log Z = max(x) - log(max(p)):
    // max(p) >= 1/V never underflows. This replaces logSumExp's Exp pass over (N, V) (the
    // slowest element-wise kernel on wasm) and the one-hot products of the plain form.
    const p = tf.softmax(x);                                                  // (N, V)
    (inputs[3] as tf.GradSaveFunc)([p, y, w]);
    const logZ = tf.sub(tf.max(x, 1), tf.log(tf.max(p, 1)));                 // (N,)
    const rowStart = tf.range(0, N * V, V, 'int32');                          // (N,) flat index of x[i, 0]
    const picked = tf.gather(x.reshape([N * V]), tf.add(rowStart, y));       // (N,) x[i, y_i]
    const target = smoothing > 0 ? tf.add(tf.mul(picked, 1 - smoothing), tf.mul(tf.mean(x, 1), smoothing)) : picked;  // (N,)
    const value = tf.div(tf.sum(tf.mul(tf.sub(logZ, target), w)), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sp, sy, sw] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
      const scale = tf.mul(dy, tf.div(sw, tf.maximum(tf.sum(sw), 1))).expandDims(1); // (N, 1)
      // int32 one-hot, then cast: tfjs-wasm's OneHot writes int bits whatever dtype is asked for
      const oneHot = tf.cast(tf.oneHot(sy, V), 'float32');                                 // (N, V)
      const q = smoothing > 0 ? tf.add(tf.mul(oneHot, 1 - smoothing), smoothing / V) : oneHot;
      const dx = tf.mul(tf.sub(sp, q), scale);                                            // (N, V)
      return [dx, tf.zerosLike(sy), tf.zerosLike(sw)];
    };
    return { value, gradFunc };
  });
  return ce(logits, labels, weights) as tf.Scalar;
}

/** The same loss in plain tf ops (reference for the gradient test). */
export function crossEntropyReference(logits: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D, smoothing = 0): tf.Scalar {
  const logp = tf.logSoftmax(logits);
  const V = logits.shape[1];
  const q = tf.add(tf.mul(tf.oneHot(labels, V), 1 - smoothing), smoothing / V);
  const picked = tf.sum(tf.mul(logp, q), 1);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}
