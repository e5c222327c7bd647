/**
 * Atomic docid rows from terms: each document's output row is the mean of its top terms' input
 * embeddings at RMS 1; documents without terms, and every other row, keep their seeded random init;
 * `--docid-init random` (or a naive dataset) leaves every row random.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESET_CONFIGS } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { initDocidRowsFromTerms, docidInitTerms } from '../shared/training/docid_init.js';
import { ATOMIC_TOKEN_BASE } from '../shared/dataset/docids/docids.js';
import { loadConfig } from '../shared/runtime/config.js';
import type { SamplingData } from '../shared/dataset/sampling_file.js';
import type { PreparedDataset } from '../shared/dataset/reader.js';

const TERMS = [[[100, 101], [7]], [], [[250]]];   // document 1 has no terms
const docs: SamplingData = { documents: TERMS.length, tokens: () => new Int32Array(0), terms: (d) => (TERMS[d] ?? []).map((t) => Int32Array.from(t)) };

test('docid init: rows are the mean of the terms\' embeddings at RMS 1; the rest keep their random init', () => {
  const model = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: ATOMIC_TOKEN_BASE + TERMS.length };
  const layout = t5ParamLayout(model);
  const params = initParams(layout, 5);
  const before = params.slice();
  initDocidRowsFromTerms(params, layout, docs);
  const table = layout.byName.get('shared.weight');
  assert.ok(table);
  const D = model.dModel;
  const row = (p: Float32Array, r: number): Float32Array => p.subarray(table.offset + r * D, table.offset + (r + 1) * D);
  for (const [d, tokens] of [[0, [100, 101, 7]], [2, [250]]] as const) {
    const mean = new Float64Array(D);
    for (const t of tokens) row(before, t).forEach((v, j) => { mean[j] = (mean[j] as number) + v / tokens.length; });
    const rms = Math.sqrt(mean.reduce((s, v) => s + v * v, 0) / D);
    const got = row(params, ATOMIC_TOKEN_BASE + d);
    got.forEach((v, j) => assert.ok(Math.abs(v - (mean[j] as number) / rms) < 1e-4, `document ${d}, element ${j}: ${v} vs ${(mean[j] as number) / rms}`));
    assert.ok(Math.abs(Math.sqrt(got.reduce((s, v) => s + v * v, 0) / D) - 1) < 1e-5);
  }
  assert.deepEqual(row(params, ATOMIC_TOKEN_BASE + 1), row(before, ATOMIC_TOKEN_BASE + 1), 'a document without terms keeps its random row');
  // everything outside the two rows is untouched
  const changed = new Set([ATOMIC_TOKEN_BASE, ATOMIC_TOKEN_BASE + 2].flatMap((r) => Array.from({ length: D }, (_, j) => table.offset + r * D + j)));
  for (let i = 0; i < params.length; i++) if (!changed.has(i) && params[i] !== before[i]) assert.fail(`parameter ${i} changed`);
});

test('docid init: terms only for atomic docids of a randomly initialised model, unless --docid-init random', () => {
  const data = (scheme: string): PreparedDataset => ({ manifest: { docid_scheme: scheme }, sampling: () => docs }) as unknown as PreparedDataset;
  const cfg = (...args: string[]) => loadConfig({ args, env: {} });
  assert.equal(docidInitTerms(cfg(), data('atomic')), docs);
  assert.equal(docidInitTerms(cfg('--docid-init', 'random'), data('atomic')), undefined);
  assert.equal(docidInitTerms(cfg(), data('naive')), undefined);
  assert.equal(docidInitTerms(cfg(), data('semantic')), undefined);
  assert.throws(() => cfg('--docid-init', 'mean'), /docidInit|docid-init/);
});
