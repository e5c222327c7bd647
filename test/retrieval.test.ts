/**
 * Constrained beam search returns only existing docids, ranked by their sequence log-probability:
 * with a beam as wide as the corpus it equals exhaustive scoring by teacher forcing.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { decode, encode, shiftRight, weightsFromFlat } from '../shared/model/t5.js';
import { DocidTrie } from '../shared/model/docid_trie.js';
import { beamSearch } from '../shared/model/beam_search.js';
import { docidToTokens } from '../shared/dataset/docids/docids.js';

before(async () => { await initBackend('wasm'); });

const c: T5Config = { ...PRESET_CONFIGS['t5-tiny'], dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 1, numDecoderLayers: 1 };
// variable-length digit docids, as semantic ids are
const DOCIDS = ['01', '02', '10', '113', '114', '2', '305', '31', '32', '4', '50', '51'];

/** log p(docid | query) by teacher forcing, summed over the docid's tokens. */
function teacherForcedScore(w: Map<string, tf.Tensor>, input: Int32Array, target: Int32Array): number {
  return tf.tidy(() => {
    const enc = encode(c, w, tf.tensor2d(input, [1, input.length], 'int32'));
    const T = target.length;
    const logits = decode(c, w, enc, tf.tensor2d(shiftRight(target, 1, T, 0), [1, T], 'int32'));
    const logp = tf.logSoftmax(logits).arraySync() as number[][];
    return [...target].reduce((s, tok, t) => s + (logp[t]?.[tok] as number), 0);
  });
}

test('beam search: only trie docids, ranked exactly as exhaustive teacher-forced scoring', async () => {
  const layout = t5ParamLayout(c);
  const w = weightsFromFlat(layout, initParams(layout, 3));
  const seqs = DOCIDS.map((d) => docidToTokens('semantic', d));
  const trie = new DocidTrie(seqs);
  const input = Int32Array.from([100, 200, 300, 400, 1]);
  const [ranked] = await beamSearch(c, w, trie, input, 1, input.length, DOCIDS.length);
  assert.ok(ranked);
  assert.equal(ranked.length, DOCIDS.length);
  const exhaustive = seqs.map((s, doc) => ({ doc, score: teacherForcedScore(w, input, s) })).sort((a, b) => b.score - a.score);
  assert.deepEqual(ranked.map((r) => r.doc), exhaustive.map((e) => e.doc));
  ranked.forEach((r, i) => assert.ok(Math.abs(r.score - (exhaustive[i]?.score as number)) < 1e-4, `rank ${i}: ${r.score} vs ${exhaustive[i]?.score}`));
  assert.deepEqual(new Set(ranked.map((r) => r.doc)).size, DOCIDS.length);
});

test('beam search: a narrow beam still returns existing docids, best first, batched queries independent', async () => {
  const layout = t5ParamLayout(c);
  const w = weightsFromFlat(layout, initParams(layout, 4));
  const trie = new DocidTrie(DOCIDS.map((d) => docidToTokens('semantic', d)));
  const a = Int32Array.from([7, 8, 9, 1]), b = Int32Array.from([70, 80, 90, 1]);
  const both = await beamSearch(c, w, trie, Int32Array.from([...a, ...b]), 2, 4, 3);
  const alone = await beamSearch(c, w, trie, b, 1, 4, 3);
  for (const r of both) {
    assert.equal(r.length, 3);
    for (let i = 1; i < r.length; i++) assert.ok((r[i - 1]?.score as number) >= (r[i]?.score as number));
    for (const d of r) assert.ok(d.doc >= 0 && d.doc < DOCIDS.length);
  }
  assert.deepEqual(both[1]?.map((d) => d.doc), alone[0]?.map((d) => d.doc));
});

test('docid trie refuses duplicate docids and docids that are prefixes of others', () => {
  assert.throws(() => new DocidTrie([Int32Array.from([5, 1]), Int32Array.from([5, 1])]), /same token sequence/);
  assert.throws(() => new DocidTrie([Int32Array.from([5, 6, 1]), Int32Array.from([5])]), /prefix/);
});
