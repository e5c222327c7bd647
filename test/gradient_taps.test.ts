/**
 * Gradients read inside the backward pass (shared/model/grads.ts gradientTap): on wasm and cpu each
 * parameter's gradient is added into the flat buffer the moment it is final, decoder before encoder,
 * the shared embedding last; the sums are bit for bit those of tf's own gradients read afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { weightsFromFlat, type Weights } from '../shared/model/t5.js';
import { accumulateWeightedGradients, batchLoss, type TokenBatch } from '../shared/model/grads.js';

const C: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 8, dKv: 4, dFf: 16, numHeads: 2,
  numLayers: 2, numDecoderLayers: 2, relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16 };
const A: TokenBatch = { inputIds: Int32Array.from([5, 9, 13, 1, 7, 1, 0, 0]), labels: Int32Array.from([31, 36, 1, 39, 1, 0]), B: 2, S: 4, T: 3 };
const B: TokenBatch = { inputIds: Int32Array.from([22, 4, 1]), labels: Int32Array.from([30, 1]), B: 1, S: 3, T: 2 };

/** tf's gradients of the same weighted loss, read after the pass, added into a flat buffer in layout order. */
function reference(w: Weights, names: string[], offsets: number[], total: number): Float32Array {
  const out = new Float32Array(total);
  tf.tidy(() => {
    const f = (...xs: tf.Tensor[]): tf.Scalar => {
      const m: Weights = new Map(w);
      names.forEach((n, i) => m.set(n, xs[i] as tf.Tensor));
      return tf.addN([tf.mul(batchLoss(C, m, A), 0.75), tf.mul(batchLoss(C, m, B), 0.25)]) as tf.Scalar;
    };
    const { grads } = tf.valueAndGrads(f)(names.map((n) => w.get(n) as tf.Tensor));
    grads.forEach((g, i) => {
      const d = g.dataSync();
      for (let j = 0; j < d.length; j++) out[(offsets[i] as number) + j] = (out[(offsets[i] as number) + j] as number) + (d[j] as number);
    });
  });
  return out;
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: each gradient reaches the buffer inside the backward pass, decoder first, shared embedding last; bit for bit tf's own`, async () => {
    await initBackend(backend);
    const layout = t5ParamLayout(C);
    const flat = initParams(layout, 7);
    const w = weightsFromFlat(layout, flat);
    const grad = new Float32Array(layout.total);
    const order: string[] = [];
    const embedding = layout.byName.get('shared.weight');
    assert.ok(embedding);
    let embeddingZeroAtFirst: boolean | undefined;
    const r = await accumulateWeightedGradients(C, layout, w, [{ batch: A, weight: 0.75 }, { batch: B, weight: 0.25 }], grad, undefined, 0, (i) => {
      const name = layout.specs[i]?.name as string;
      if (order.length === 0) embeddingZeroAtFirst = grad.subarray(embedding.offset, embedding.offset + embedding.size).every((x) => x === 0);
      order.push(name);
    });
    assert.ok(Number.isFinite(r.loss));
    // each parameter once
    assert.equal(order.length, layout.specs.length);
    assert.equal(new Set(order).size, layout.specs.length);
    // reported in the backward pass's order, not the layout's: the embedding (read first) is final last
    assert.equal(order.at(-1), 'shared.weight');
    assert.equal(embeddingZeroAtFirst, true, 'the first gradient was reported before the embedding\'s was added');
    const at = (n: string): number => order.indexOf(n);
    assert.ok(at('decoder.block.1.layer.2.DenseReluDense.wo.weight') < at('decoder.block.0.layer.0.SelfAttention.q.weight'));
    assert.ok(at('decoder.block.0.layer.0.SelfAttention.q.weight') < at('encoder.block.1.layer.1.DenseReluDense.wo.weight'));
    assert.ok(at('encoder.block.1.layer.1.DenseReluDense.wo.weight') < at('encoder.block.0.layer.0.SelfAttention.q.weight'));
    // the same sums as tf's gradients read afterwards
    const want = reference(w, layout.specs.map((s) => s.name), layout.specs.map((s) => s.offset), layout.total);
    assert.deepEqual(grad, want);
    tf.dispose([...w.values()]);
  });
}
