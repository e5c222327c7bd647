/** The DSI contract at its simplest: a t5-tiny memorises 64 passages (text -> docid) to Hits@1 = 1.0. */
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
import { prepareOptions } from './prepare_helpers.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { initialModel } from '../shared/training/setup.js';
import { PreparedOrder } from '../shared/training/sampler.js';
import { Trainer } from '../shared/training/trainer.js';
import { newAdamWState } from '../shared/training/adamw.js';
import { weightsFromFlat } from '../shared/model/t5.js';
import { DocidTrie } from '../shared/model/docid_trie.js';
import { evaluateModel } from '../shared/training/dsi_retrieval.js';

const PASSAGES = 64;
const MAX_STEPS = 150;           // measured: Hits@1 reaches 1.0 at step 100 with these settings (seed 42)
const CHECK_FROM = 75, CHECK_EVERY = 25;

test(`t5-tiny memorises ${PASSAGES} passages: Hits@1 = 1.0 within ${MAX_STEPS} steps`, async (t) => {
  await initBackend('wasm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-memorise-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'in.jsonl'), readFileSync(SAMPLE_JSONL, 'utf8').split('\n').slice(0, PASSAGES).join('\n') + '\n');
  const tok = await loadT5Tokenizer();
  // almost every query held out: the training examples are (nearly) only the 64 indexing examples
  await prepareDataset(prepareOptions(tok, path.join(dir, 'data'), { input: path.join(dir, 'in.jsonl'), seed: 1, evalFraction: 0.99, bm25TopK: 0 }));
  const data = await openPreparedDataset(path.join(dir, 'data'));
  t.after(() => data.close());
  const cfg = loadConfig({ args: ['--batch-size', '16', '--lr', '3e-3', '--steps', String(MAX_STEPS), '--warmup-steps', '20', '--decay', 'linear', '--min-lr-ratio', '0'], env: {} });
  const { model, layout, params } = await initialModel(cfg, data.manifest.model_vocab_size);
  const state = { step: 0, params, opt: newAdamWState(layout.total) };
  const trainer = new Trainer({ cfg, model, layout, data: new PreparedOrder(data, cfg.runtime.seed), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, state);
  const docs = data.documents();
  assert.equal(docs.length, PASSAGES);
  const passagesAsQueries = docs.map((d) => ({ qid: d.docid, query: d.text, docids: [d.docid] }));
  const trie = new DocidTrie(data.docidTokens());
  const curve: Array<[number, number]> = [];
  while (state.step < MAX_STEPS) {
    await trainer.step();
    if (state.step >= CHECK_FROM && state.step % CHECK_EVERY === 0) {
      const weights = weightsFromFlat(layout, state.params);
      const r = await evaluateModel({ config: model, weights, trie, docids: docs.map((d) => d.docid) }, tok, passagesAsQueries, { beamSize: 10, maxInputTokens: 64, batchSize: 16, lowercase: data.manifest.lowercase === true });
      curve.push([state.step, r.metrics.hits_at_1]);
      if (r.metrics.hits_at_1 === 1) break;
    }
  }
  assert.equal(curve.at(-1)?.[1], 1, `Hits@1 by step: ${JSON.stringify(curve)}`);
});
