/**
 * Each custom gradient of the model equals TensorFlow.js's own gradient of the plain op, on the cpu
 * backend (which has every gradient kernel), and the whole T5 loss gradient agrees with a finite difference.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { embeddingLookup, matMul, relativePositionBuckets, rmsNorm, vocabLogits } from '../shared/model/layers.js';
import { crossEntropy, crossEntropyReference } from '../shared/model/loss.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { weightsFromFlat } from '../shared/model/t5.js';
import { accumulateGradients, batchLoss, type TokenBatch } from '../shared/model/grads.js';
import { maxAbsDiff, GRADIENT_PROBES } from './tensor_checks.js';

before(async () => { await initBackend('cpu'); });

test('embedding lookup: scatter gradient equals tf.gather gradient (repeated ids add up)', () => {
  const table = tf.randomNormal([11, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
  const ids = tf.tensor1d([3, 0, 3, 10, 7, 3], 'int32');
  const dy = tf.randomNormal([6, 5], 0, 1, 'float32', 2);
  const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids), dy)))(table);
  const theirs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), dy)))(table);
  assert.ok(maxAbsDiff(ours, theirs) < 1e-6, `max diff ${maxAbsDiff(ours, theirs)}`);
  // row 3 was looked up three times: its gradient is the sum of three dy rows, not zero
  assert.ok(Math.abs((ours.slice([3, 0], [1, 1]).dataSync()[0] as number)) > 0);
  // the rows themselves are tf.gather's; an id outside the table is an error, not a row of zeros
  assert.deepEqual(embeddingLookup(table, ids).arraySync(), tf.gather(table, ids).arraySync());
  assert.throws(() => embeddingLookup(table, tf.tensor1d([2, 11], 'int32')), /id 11 at position 1 is outside the table's 11 rows/);
});

for (const shapes of [[[7, 4], [4, 9]], [[3, 6, 4], [3, 4, 5]]] as const) {
  test(`matMul ${JSON.stringify(shapes)}: explicit-transpose gradient equals tf.matMul gradient`, () => {
    const a = tf.randomNormal(shapes[0] as unknown as number[], 0, 1, 'float32', 3);
    const b = tf.randomNormal(shapes[1] as unknown as number[], 0, 1, 'float32', 4);
    const out = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D);
    const dy = tf.randomNormal(out.shape, 0, 1, 'float32', 5);
    const f = (mm: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x, y), dy));
    const ours = tf.grads(f((x, y) => matMul(x as tf.Tensor3D, y as tf.Tensor3D)))([a, b]);
    const theirs = tf.grads(f((x, y) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D)))([a, b]);
    assert.deepEqual(ours.map((g) => g.shape), theirs.map((g) => g.shape));
    for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(ours[i] as tf.Tensor, theirs[i] as tf.Tensor) < 1e-5);
  });
}

test('vocabulary logits h @ table^T: value and both gradients equal tf.matMul\'s', () => {
  const h = tf.randomNormal([6, 5], 0, 1, 'float32', 11) as tf.Tensor2D;
  const table = tf.randomNormal([13, 5], 0, 1, 'float32', 12) as tf.Tensor2D;
  const dy = tf.randomNormal([6, 13], 0, 1, 'float32', 13);
  const f = (logits: (x: tf.Tensor2D, t: tf.Tensor2D) => tf.Tensor) => (x: tf.Tensor, t: tf.Tensor) =>
    tf.sum(tf.mul(logits(x as tf.Tensor2D, t as tf.Tensor2D), dy));
  const ours = tf.valueAndGrads(f(vocabLogits))([h, table]);
  const theirs = tf.valueAndGrads(f((x, t) => tf.matMul(x, t, false, true)))([h, table]);
  assert.ok(Math.abs((ours.value.dataSync()[0] as number) - (theirs.value.dataSync()[0] as number)) < 1e-4);
  assert.deepEqual(ours.grads.map((g) => g.shape), [[6, 5], [13, 5]]);
  for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(ours.grads[i] as tf.Tensor, theirs.grads[i] as tf.Tensor) < 1e-5);
});

test('RMS norm: value and both gradients equal tf\'s own gradient of the plain formula', () => {
  const x = tf.randomNormal([7, 6], 0, 2, 'float32', 21) as tf.Tensor2D;
  const w = tf.randomNormal([6], 1, 0.5, 'float32', 22) as tf.Tensor1D;
  const dy = tf.randomNormal([7, 6], 0, 1, 'float32', 23);
  const plain = (xi: tf.Tensor2D, wi: tf.Tensor1D): tf.Tensor => tf.mul(tf.mul(xi, tf.rsqrt(tf.add(tf.mean(tf.square(xi), -1, true), 1e-6))), wi);
  const f = (norm: (xi: tf.Tensor2D, wi: tf.Tensor1D) => tf.Tensor) => (xi: tf.Tensor, wi: tf.Tensor) =>
    tf.sum(tf.mul(norm(xi as tf.Tensor2D, wi as tf.Tensor1D), dy));
  const ours = tf.valueAndGrads(f((xi, wi) => rmsNorm(xi, wi, 1e-6)))([x, w]);
  const theirs = tf.valueAndGrads(f(plain))([x, w]);
  assert.ok(Math.abs((ours.value.dataSync()[0] as number) - (theirs.value.dataSync()[0] as number)) < 1e-4);
  assert.deepEqual(ours.grads.map((g) => g.shape), [[7, 6], [6]]);
  for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(ours.grads[i] as tf.Tensor, theirs.grads[i] as tf.Tensor) < 1e-5, `grad ${i}: ${maxAbsDiff(ours.grads[i] as tf.Tensor, theirs.grads[i] as tf.Tensor)}`);
});

test('cross-entropy: fused gradient (softmax - one-hot) equals the gradient of logSoftmax form; padding carries no loss', () => {
  const logits = tf.randomNormal([6, 13], 0, 2, 'float32', 6) as tf.Tensor2D;
  const labels = tf.tensor1d([1, 12, 0, 5, 5, 2], 'int32');
  const weights = tf.tensor1d([1, 1, 0, 1, 1, 0], 'float32');
  const ours = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, labels, weights))(logits);
  const theirs = tf.valueAndGrad((x: tf.Tensor) => crossEntropyReference(x as tf.Tensor2D, labels, weights))(logits);
  assert.ok(Math.abs((ours.value.dataSync()[0] as number) - (theirs.value.dataSync()[0] as number)) < 1e-5);
  assert.ok(maxAbsDiff(ours.grad, theirs.grad) < 1e-6);
  // rows with weight 0 get exactly zero gradient
  assert.ok([...ours.grad.slice([2, 0], [1, 13]).dataSync()].every((g) => g === 0));
  // label smoothing: the same agreement with the smoothed target of the plain form
  const smoothed = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, labels, weights, 0.1))(logits);
  const plain = tf.valueAndGrad((x: tf.Tensor) => crossEntropyReference(x as tf.Tensor2D, labels, weights, 0.1))(logits);
  assert.ok(Math.abs((smoothed.value.dataSync()[0] as number) - (plain.value.dataSync()[0] as number)) < 1e-5);
  assert.ok(maxAbsDiff(smoothed.grad, plain.grad) < 1e-6);
  assert.ok((smoothed.value.dataSync()[0] as number) !== (ours.value.dataSync()[0] as number), 'smoothing changes the loss');
});

test('relative position buckets follow Hugging Face\'s _relative_position_bucket', () => {
  // the query sits at position 200; keys at relative positions -200, -20, -3, 0, 3, 20, 200. Expected values
  // by hand from _relative_position_bucket: e.g. -20 bidirectional: 8 + int(ln(20/8) / ln(128/8) * 8) = 10
  const rel = [-200, -20, -3, 0, 3, 20, 200];
  const bi = rel.map((r) => relativePositionBuckets(1, 401, true, 32, 128, 200)[200 + r]);
  assert.deepEqual(bi, [15, 10, 3, 0, 19, 26, 31]);
  // causal (decoder): only the past counts
  const uni = rel.map((r) => relativePositionBuckets(1, 401, false, 32, 128, 200)[200 + r]);
  assert.deepEqual(uni, [31, 17, 3, 0, 0, 0, 0]);
});

test('T5 loss gradient matches central finite differences (gated-gelu, untied head, dropout off)', async () => {
  const c: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 8, dKv: 4, dFf: 16, numHeads: 2,
    numLayers: 1, numDecoderLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16 };
  const layout = t5ParamLayout(c);
  const flat = initParams(layout, 7);
  const batch: TokenBatch = { inputIds: Int32Array.from([5, 9, 13, 1, 7, 1, 0, 0]), labels: Int32Array.from([21, 30, 1, 22, 1, 0]), B: 2, S: 4, T: 3 };
  const grad = new Float32Array(layout.total);
  await accumulateGradients(c, layout, weightsFromFlat(layout, flat), batch, 1, grad);
  const lossAt = (p: Float32Array): number => tf.tidy(() => batchLoss(c, weightsFromFlat(layout, p), batch).dataSync()[0] as number);
  // probe a few coordinates of different parameters (float64 would be exact; float32 needs a loose bound)
  for (const name of GRADIENT_PROBES) {
    const spec = layout.byName.get(name);
    assert.ok(spec, name);
    const i = spec.offset + Math.floor(spec.size / 3);
    const eps = 1e-2;
    const plus = Float32Array.from(flat); plus[i] = (plus[i] as number) + eps;
    const minus = Float32Array.from(flat); minus[i] = (minus[i] as number) - eps;
    const numeric = (lossAt(plus) - lossAt(minus)) / (2 * eps);
    const analytic = grad[i] as number;
    assert.ok(Math.abs(numeric - analytic) < 2e-3 + 0.05 * Math.abs(numeric), `${name}[${i - spec.offset}]: analytic ${analytic} vs numeric ${numeric}`);
  }
});
