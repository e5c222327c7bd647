/**
 * The custom ops of the training step on the wasm backend itself (gradients.test.ts proves them on
 * cpu): wasm kernels can differ from cpu's, e.g. its OneHot ignores a float32 dtype, which once
 * zeroed the label term of the loss gradient there and nowhere else.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { crossEntropy, crossEntropyReference } from '../shared/model/loss.js';
import { vocabLogits } from '../shared/model/layers.js';
import { headMix, headScores } from '../shared/model/head_products.js';
import { maxAbsDiff } from './tensor_checks.js';

before(async () => { await initBackend('wasm'); });

test('wasm: cross-entropy value and gradient equal tf\'s own gradient of the logSoftmax form', () => {
  const logits = tf.randomNormal([6, 13], 0, 2, 'float32', 6) as tf.Tensor2D;
  const labels = tf.tensor1d([1, 12, 0, 5, 5, 2], 'int32');
  const weights = tf.tensor1d([1, 1, 0, 1, 1, 0], 'float32');
  const ours = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, labels, weights))(logits);
  const theirs = tf.valueAndGrad((x: tf.Tensor) => crossEntropyReference(x as tf.Tensor2D, labels, weights))(logits);
  assert.ok(Math.abs((ours.value.dataSync()[0] as number) - (theirs.value.dataSync()[0] as number)) < 1e-5);
  assert.ok(maxAbsDiff(ours.grad, theirs.grad) < 1e-6, `max diff ${maxAbsDiff(ours.grad, theirs.grad)}`);
});

test('wasm: vocabulary logits and attention head products: values and gradients equal tf.matMul\'s', () => {
  const [B, T, S, H, Kv] = [2, 5, 7, 2, 3];
  const q = tf.randomNormal([B * T, H * Kv], 0, 1, 'float32', 1) as tf.Tensor2D;
  const k = tf.randomNormal([B * S, H * Kv], 0, 1, 'float32', 2) as tf.Tensor2D;
  const table = tf.randomNormal([11, H * Kv], 0, 1, 'float32', 3) as tf.Tensor2D;
  const dy = tf.randomNormal([B * T, 11], 0, 1, 'float32', 4);
  const heads = (x: tf.Tensor2D, N: number): tf.Tensor3D => x.reshape([B, N, H, Kv]).transpose([0, 2, 1, 3]).reshape([B * H, N, Kv]) as tf.Tensor3D;
  const merge = (y: tf.Tensor3D): tf.Tensor2D => y.reshape([B, H, T, Kv]).transpose([0, 2, 1, 3]).reshape([B * T, H * Kv]) as tf.Tensor2D;
  const ours = (a: tf.Tensor, b: tf.Tensor, t: tf.Tensor): tf.Scalar => {
    const y = headMix(tf.softmax(headScores(a as tf.Tensor2D, b as tf.Tensor2D, B, T, S, H)) as tf.Tensor4D, b as tf.Tensor2D, B, T, S, H);
    return tf.sum(tf.mul(vocabLogits(y, t as tf.Tensor2D), dy));
  };
  const theirs = (a: tf.Tensor, b: tf.Tensor, t: tf.Tensor): tf.Scalar => {
    const p = tf.softmax(tf.matMul(heads(a as tf.Tensor2D, T), heads(b as tf.Tensor2D, S), false, true));
    return tf.sum(tf.mul(tf.matMul(merge(tf.matMul(p, heads(b as tf.Tensor2D, S))), t as tf.Tensor2D, false, true), dy));
  };
  const g1 = tf.valueAndGrads(ours)([q, k, table]), g2 = tf.valueAndGrads(theirs)([q, k, table]);
  assert.ok(Math.abs((g1.value.dataSync()[0] as number) - (g2.value.dataSync()[0] as number)) < 1e-3);
  for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(g1.grads[i] as tf.Tensor, g2.grads[i] as tf.Tensor) < 1e-4, `gradient ${i}`);
});
