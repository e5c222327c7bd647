/**
 * `coordinator prepare` and `coordinator eval --bm25` as a user runs them (real processes, real files),
 * the bundled-sample path of `start`, and model folders that cannot hold weights here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLE_JSONL } from '../shared/runtime/paths.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/log.js';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { bundledSampleOptions } from '../shared/dataset/prepare/options.js';
import { BM25_RUN_FILE, DOCIDS_FILE, DOCUMENTS_FILE, QUERIES_FILE, type DatasetManifest } from '../shared/dataset/format.js';
import { buildBm25Index } from '../shared/dataset/retrieval/bm25.js';
import { evaluateRankings } from '../shared/dataset/retrieval/metrics.js';
import { readJsonl } from './prepare_helpers.js';
import { cli } from './run_cli.js';


function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-prepare-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('prepare --json writes the folder and prints its manifest; eval --bm25 scores the saved run as an independent BM25 does', async (t) => {
  const out = path.join(tmp(t), 'sample');
  const p = await cli(['prepare', '--format', 'sample', '--out', out, '--bm25-top-k', '50', '--json']);
  assert.equal(p.code, 0, p.stderr);
  const manifest = JSON.parse(p.stdout) as DatasetManifest;
  assert.deepEqual(manifest, JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')));
  assert.equal(manifest.source.path, SAMPLE_JSONL);
  const run50 = readFileSync(path.join(out, BM25_RUN_FILE), 'utf8').trim().split('\n');
  const perQuery = new Map<string, number>();
  for (const line of run50) perQuery.set(line.split(' ')[0] ?? '', (perQuery.get(line.split(' ')[0] ?? '') ?? 0) + 1);
  assert.equal(perQuery.size, 200, 'every held-out query ranked');
  // at most 50 each: BM25 returns only documents that share a term with the query
  assert.equal(Math.max(...perQuery.values()), 50);
  assert.match(run50[0] ?? '', /^\d+ Q0 \d{1,3} 1 [\d.e+-]+ bm25$/);   // atomic docids (the default): 0..999

  const e = await cli(['eval', '--bm25', '--data', out, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout) as { hits_at_1: number; hits_at_10: number; mrr_at_10: number; queries: number; top_k: number };
  const bm25 = manifest.pipeline?.['bm25'] as { hits_at_1: number; hits_at_10: number; mrr_at_10: number };
  assert.deepEqual([r.hits_at_1, r.hits_at_10, r.mrr_at_10, r.queries, r.top_k], [bm25.hits_at_1, bm25.hits_at_10, bm25.mrr_at_10, 200, 50]);
  // an index built here from documents.jsonl, searched with the held-out queries: the same figures
  const docs = readJsonl<{ docid: string; text: string }>(path.join(out, DOCUMENTS_FILE));
  const evalQueries = readJsonl<{ qid: string; query: string; docids: string[]; split: string }>(path.join(out, QUERIES_FILE)).filter((q) => q.split === 'eval');
  const index = await buildBm25Index(docs);
  const expected = evaluateRankings(new Map(evalQueries.map((q) => [q.qid, index.search(q.query, 10).map((h) => h.docid)])), new Map(evalQueries.map((q) => [q.qid, new Set(q.docids)])));
  assert.deepEqual(r.hits_at_1 * 200, expected.hits_at_1 * 200);
  assert.equal(r.mrr_at_10, expected.mrr_at_10);
  assert.ok(r.hits_at_1 > 0.5 && r.hits_at_1 <= r.hits_at_10, `BM25 on its own passages' queries: ${JSON.stringify(r)}`);

  // a changed run file is refused, naming it
  writeFileSync(path.join(out, BM25_RUN_FILE), run50.slice(1).join('\n') + '\n');
  const changed = await cli(['eval', '--bm25', '--data', out, '--json']);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /bm25\.eval\.trec: sha256 .* differs from the manifest's/);
});

test('prepare: bad input exits 2 with file:line; --skip-bad goes on and the manifest counts it', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'v11.jsonl');
  const rec = (id: number, text: string): string => JSON.stringify({ query_id: id, query: `query ${id}`, passages: { is_selected: [1], passage_text: [text], url: ['u'] } });
  writeFileSync(file, [rec(1, 'The first passage.'), rec(2, 'The second passage.'), '{"query_id": 3,', rec(4, 'The fourth passage.')].join('\n') + '\n');
  const bad = await cli(['prepare', '--format', 'msmarco-v1.1', '--input', file, '--out', path.join(dir, 'a')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:3: not valid JSON`));
  const skipped = await cli(['prepare', '--format', 'msmarco-v1.1', '--input', file, '--out', path.join(dir, 'b'), '--skip-bad', '--eval-fraction', '0.25', '--json']);
  assert.equal(skipped.code, 0, skipped.stderr);
  const m = JSON.parse(skipped.stdout) as DatasetManifest;
  assert.equal((m.pipeline?.['bad_input'] as { skipped: number }).skipped, 1);
  assert.deepEqual([m.counts.documents, m.counts.train_queries, m.counts.eval_queries], [3, 2, 1]);
});

test('model folders: a missing folder or ONNX file is named (no model weights can exist here, so only the refusal is tested)', async (t) => {
  const dir = tmp(t);
  const model = path.join(dir, 'bert-base-uncased');
  mkdirSync(model);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) writeFileSync(path.join(model, f), '{}');
  const base = ['prepare', '--format', 'sample', '--out', path.join(dir, 'out'), '--bm25-top-k', '0'];
  const embed = await cli([...base, '--docids', 'semantic', '--embedder-model', model]);
  assert.equal(embed.code, 2);
  assert.match(embed.stderr, new RegExp(`${model}/onnx/model\\.onnx: missing .*cannot be downloaded`));
  const mlm = await cli([...base, '--augment', 'pos-mlm', '--mlm-model', path.join(dir, 'absent')]);
  assert.equal(mlm.code, 2);
  assert.match(mlm.stderr, /absent: no such model folder for POS-MLM/);
  rmSync(path.join(model, 'tokenizer.json'));
  const d2q = await cli([...base, '--pseudo-queries', '2', '--doc2query-model', model]);
  assert.equal(d2q.code, 2);
  assert.match(d2q.stderr, /bert-base-uncased\/tokenizer\.json: missing: pseudo-queries/);
});

/**
 * Written by the former sample preparer (shared/dataset/prepare_sample.ts, removed) for seed 11 and
 * checked equal to prepare's output before it went: docids.txt, the held-out qids joined by newlines,
 * and the examples. Cached sample folders of older runs stay valid as long as these hold.
 */
const FORMER_SEED_11 = {
  docids: '725b9b59ab5b206094a956b79b70fd62b3dae391538b2d220d782a536f947e2c',
  evalQids: 'e550cd276d735503e4c4c7ebc648ccf9ddccce57d94ac9bb88ee5d1c334a8a19',
};

test("start's bundled sample goes through prepare and keeps the former preparer's docids and split", async (t) => {
  const dir = tmp(t);
  const tok = await loadT5Tokenizer();
  const cfg = loadConfig({ args: ['--seed', '11', '--docids', 'naive'], env: {} });   // the former preparer's scheme
  const m = await prepareDataset(bundledSampleOptions(cfg, path.join(dir, 'new'), tok, createLogger({ level: 'silent' })));
  const a = await openPreparedDataset(path.join(dir, 'new'));
  t.after(() => a.close());
  assert.equal(m.files[DOCIDS_FILE]?.sha256, FORMER_SEED_11.docids);
  assert.equal(createHash('sha256').update(a.queries('eval').map((q) => q.qid).join('\n')).digest('hex'), FORMER_SEED_11.evalQids);
  assert.equal(m.counts.documents, 1000);
  assert.equal(a.numExamples, 1000 + (m.pipeline?.['counts'] as { examples: { retrieval: number } }).examples.retrieval);
});
