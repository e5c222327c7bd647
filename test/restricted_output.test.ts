/**
 * The decoder's output restricted to the docid tokens: its loss is the full-vocabulary loss restricted
 * to those rows (log-softmax over their columns of the full logits), and so is every parameter's
 * gradient; beam search scores with the same restricted softmax.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { crossEntropyReference } from '../shared/model/loss.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { decode, encode, shiftRight, weightsFromFlat, type Weights } from '../shared/model/t5.js';
import { accumulateGradients, OutputVocabulary, type TokenBatch } from '../shared/model/grads.js';
import { beamSearch } from '../shared/model/beam_search.js';
import { DocidTrie } from '../shared/model/docid_trie.js';

before(async () => { await initBackend('cpu'); });

const BASE: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 8, dKv: 4, dFf: 16, numHeads: 2,
  numLayers: 1, numDecoderLayers: 1, relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16 };
// output rows: </s> (1) and six "docid" tokens; labels use only them
const OUTPUT = Int32Array.from([1, 30, 31, 33, 35, 36, 39]);
const BATCH: TokenBatch = { inputIds: Int32Array.from([5, 9, 13, 1, 7, 1, 0, 0, 22, 4, 1, 0]), labels: Int32Array.from([31, 36, 1, 39, 1, 0, 30, 1, 0]), B: 3, S: 4, T: 3 };

/** The reference: full-vocabulary logits, their output columns picked, plain log-softmax cross-entropy. */
function referenceLoss(c: T5Config, w: Weights, batch: TokenBatch, out: OutputVocabulary): tf.Scalar {
  const { B, S, T } = batch;
  const input = tf.tensor2d(batch.inputIds, [B, S], 'int32');
  const dec = tf.tensor2d(shiftRight(batch.labels, B, T, c.decoderStartTokenId), [B, T], 'int32');
  const logits = decode(c, w, encode(c, w, input), dec);                                   // (B*T, V)
  const picked = tf.gather(logits, tf.tensor1d(out.ids, 'int32'), 1) as tf.Tensor2D;      // (B*T, R)
  const labels = tf.tensor1d(batch.labels, 'int32');
  const weights = tf.cast(tf.notEqual(labels, c.padTokenId), 'float32') as tf.Tensor1D;
  return crossEntropyReference(picked, tf.tensor1d(out.columns(batch.labels, c.padTokenId), 'int32'), weights);
}

for (const tied of [true, false]) {
  test(`restricted output (${tied ? 'tied' : 'untied'} head): loss and every gradient equal the full-vocabulary loss restricted to the docid rows`, async () => {
    const c: T5Config = { ...BASE, tieWordEmbeddings: tied };
    const layout = t5ParamLayout(c);
    const flat = initParams(layout, 3);
    const out = new OutputVocabulary(OUTPUT, c.vocabSize);
    const grad = new Float32Array(layout.total);
    const r = await accumulateGradients(c, layout, weightsFromFlat(layout, flat), BATCH, 1, grad, undefined, out);

    const names = layout.specs.map((s) => s.name);
    const w = weightsFromFlat(layout, flat);
    const ref = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const ww: Weights = new Map(w);
      names.forEach((n, i) => ww.set(n, xs[i] as tf.Tensor));
      return referenceLoss(c, ww, BATCH, out);
    })(names.map((n) => w.get(n) as tf.Tensor));
    const refLoss = ref.value.dataSync()[0] as number;
    assert.ok(Math.abs(r.loss - refLoss) < 1e-5, `loss ${r.loss} vs reference ${refLoss}`);
    // it is not the full-vocabulary loss: the restriction changes the normaliser
    const full = new Float32Array(layout.total);
    const rf = await accumulateGradients(c, layout, weightsFromFlat(layout, flat), BATCH, 1, full);
    assert.ok(rf.loss > r.loss + 1e-3, `full-vocabulary loss ${rf.loss} should exceed the restricted ${r.loss}`);
    let worst = 0;
    names.forEach((n, i) => {
      const spec = layout.byName.get(n)!;
      const g = ref.grads[i]!.dataSync();
      for (let j = 0; j < spec.size; j++) worst = Math.max(worst, Math.abs((grad[spec.offset + j] as number) - (g[j] as number)));
    });
    assert.ok(worst < 1e-5, `largest gradient difference ${worst}`);
    // rows outside the output get no gradient from the head (only from input lookups): row 37 is neither
    const shared = layout.byName.get('shared.weight')!;
    const row37 = grad.subarray(shared.offset + 37 * c.dModel, shared.offset + 38 * c.dModel);
    assert.ok(row37.every((x) => x === 0), 'a row that is neither an input nor an output has no gradient');
  });
}

test('a label outside the output rows is an error that names the flag to use', () => {
  const out = new OutputVocabulary(OUTPUT, 40);
  assert.throws(() => out.columns(Int32Array.from([31, 7, 1]), 0), /label 7 at position 1 is not one of the 7 output tokens.*--decoder-output vocab/);
  assert.throws(() => new OutputVocabulary(Int32Array.from([1, 40]), 40), /id 40 outside the model's 40 rows/);
});

test('beam search with the restricted output ranks by the restricted log-probabilities', async () => {
  const c: T5Config = { ...BASE };
  const layout = t5ParamLayout(c);
  const w = weightsFromFlat(layout, initParams(layout, 5));
  const docids = [[30, 1], [31, 1], [33, 35, 1], [36, 1], [39, 1]].map((d) => Int32Array.from(d));
  const trie = new DocidTrie(docids);
  const out = new OutputVocabulary(OUTPUT, c.vocabSize);
  const input = Int32Array.from([5, 9, 13, 1]);
  const [ranked] = await beamSearch(c, w, trie, input, 1, 4, 5, out);
  assert.equal(ranked!.length, 5);
  // each score is the sum of log-softmax over the output columns, step by step (teacher-forced)
  for (const r of ranked!) {
    const score = tf.tidy(() => {
      const T = r.tokens.length;
      const dec = tf.tensor2d(shiftRight(Int32Array.from(r.tokens), 1, T, c.decoderStartTokenId), [1, T], 'int32');
      const logits = decode(c, w, encode(c, w, tf.tensor2d(input, [1, 4], 'int32')), dec, undefined, undefined, { ids: tf.tensor1d(OUTPUT, 'int32') });
      const logp = tf.logSoftmax(logits).arraySync() as number[][];
      return r.tokens.reduce((s, tok, t) => s + (logp[t]![out.columnOf(tok)] as number), 0);
    });
    assert.ok(Math.abs(score - r.score) < 1e-4, `doc ${r.doc}: ${r.score} vs ${score}`);
  }
  for (let i = 1; i < ranked!.length; i++) assert.ok(ranked![i - 1]!.score >= ranked![i]!.score);
});
