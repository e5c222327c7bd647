/**
 * The retrieval recipe end to end on a small corpus: a t5-tiny from random initialisation, trained on
 * the sampled mix (documents, spans, term queries, training queries) with atomic docids and the
 * restricted output, answers held-out queries it never saw far above chance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../shared/runtime/backend.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/log.js';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { SAMPLE_JSONL } from '../shared/runtime/paths.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { currentWeights, releaseWeights, setUpTraining } from '../shared/training/setup.js';
import { decoderOutput, trainingData } from '../shared/training/training_data.js';
import { Trainer } from '../shared/training/trainer.js';
import { evaluateModel, retrievalModelOf } from '../shared/training/dsi_retrieval.js';
import { prepareOptions } from './prepare_helpers.js';

const DOCUMENTS = 50;
const MAX_STEPS = 600;
const CHECK_EVERY = 100;
/** Chance is 10/50 = 0.2 for Hits@10 over 50 documents. */
const HITS_AT_10_GOAL = 0.6;

test(`recipe: a t5-tiny trained on ${DOCUMENTS} documents finds held-out queries' documents (Hits@10 >= ${HITS_AT_10_GOAL}, chance 0.2)`, async (t) => {
  await initBackend('wasm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-recipe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // the sample's first 50 records: one query and its passage each
  writeFileSync(path.join(dir, 'in.jsonl'), readFileSync(SAMPLE_JSONL, 'utf8').split('\n').slice(0, DOCUMENTS).join('\n') + '\n');
  const tok = await loadT5Tokenizer();
  await prepareDataset(prepareOptions(tok, path.join(dir, 'data'), { input: path.join(dir, 'in.jsonl'), scheme: 'atomic', seed: 3, evalFraction: 0.5, bm25TopK: 0 }));
  const data = await openPreparedDataset(path.join(dir, 'data'));
  t.after(() => data.close());
  const cfg = loadConfig({ args: ['--batch-size', '32', '--lr', '1e-3', '--steps', String(MAX_STEPS), '--warmup-steps', '50', '--decay', 'constant'], env: {} });
  const setup = await setUpTraining(cfg, data);
  const examples = trainingData(cfg, data);
  assert.equal(examples.mix, 'documents:1,spans:4,terms:2,queries:1');
  const output = decoderOutput(cfg, data);
  assert.equal(output?.ids.length, DOCUMENTS + 1);
  const trainer = new Trainer({ cfg, model: setup.model, layout: setup.trainLayout, data: examples.source, ...(output ? { output } : {}), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, setup.state);
  const held = data.queries('eval');
  assert.equal(held.length, DOCUMENTS / 2);
  const curve: Array<[number, number]> = [];
  while (setup.state.step < MAX_STEPS) {
    await trainer.step();
    if (setup.state.step % CHECK_EVERY !== 0) continue;
    const weights = currentWeights(setup);
    try {
      const r = await evaluateModel(retrievalModelOf(cfg, data, setup.model, weights), tok, held, { beamSize: 10, maxInputTokens: 64, lowercase: true, batchSize: 25 });
      curve.push([setup.state.step, r.metrics.hits_at_10]);
    } finally {
      releaseWeights(setup, weights);
    }
    if ((curve.at(-1)?.[1] ?? 0) >= HITS_AT_10_GOAL) break;
  }
  assert.ok((curve.at(-1)?.[1] ?? 0) >= HITS_AT_10_GOAL, `held-out Hits@10 by step: ${JSON.stringify(curve)}`);
});
