/**
 * The training data loader's sampler (shared/training/sampler.ts) and what prepare writes for it
 * (sampling.bin): seeded by global position, so 1, 2 and 4 workers draw the same examples; spans are
 * windows of their document, term queries its top terms; length buckets cover every example once.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadT5Tokenizer, type T5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { openPreparedDataset, type PreparedDataset } from '../shared/dataset/reader.js';
import { readSamplingFile } from '../shared/dataset/sampling_file.js';
import { SAMPLING_FILE } from '../shared/dataset/format.js';
import { MixSampler, parseMix, type SamplerOptions } from '../shared/training/sampler.js';
import { lengthBuckets, microBatchPositions } from '../shared/training/batches.js';
import { loadConfig } from '../shared/runtime/config.js';
import { decoderOutput, trainingData } from '../shared/training/training_data.js';
import { prepareOptions } from './prepare_helpers.js';

let tok: T5Tokenizer;
let dir: string;
let data: PreparedDataset;
before(async () => {
  tok = await loadT5Tokenizer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-sampler-'));
  await prepareDataset(prepareOptions(tok, path.join(dir, 'atomic'), { scheme: 'atomic', bm25TopK: 0 }));
  data = await openPreparedDataset(path.join(dir, 'atomic'));
});
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const OPTIONS: SamplerOptions = {
  mix: parseMix('documents:1,spans:4,terms:2,queries:1'), seed: 11,
  spanTokens: { min: 4, max: 16 }, termCount: { min: 3, max: 6 }, maxInputTokens: 64,
};
const same = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

test('--mix parses SOURCE:WEIGHT lists and names what is wrong', () => {
  assert.deepEqual(parseMix('spans:4, terms:2'), { documents: 0, spans: 4, terms: 2, queries: 0 });
  assert.throws(() => parseMix('spans:4,passages:1'), /'passages:1': expected SOURCE:WEIGHT with SOURCE one of documents, spans, terms, queries/);
  assert.throws(() => parseMix('spans:-1'), /'spans:-1': the weight must be a number >= 0/);
  assert.throws(() => parseMix('spans:0'), /give at least one source a weight above 0/);
});

test('sampler: the same seed gives the same examples, another seed others; 1, 2 and 4 workers draw the same global batch', () => {
  const a = new MixSampler(data, OPTIONS), b = new MixSampler(data, OPTIONS), c = new MixSampler(data, { ...OPTIONS, seed: 12 });
  let differ = 0;
  for (let p = 0; p < 300; p++) {
    const x = a.exampleAt(p), y = b.exampleAt(p);
    assert.ok(same(x.input, y.input) && same(x.target, y.target), `position ${p}`);
    if (!same(x.input, c.exampleAt(p).input)) differ++;
  }
  assert.ok(differ > 250, `another seed should draw other examples (${differ} of 300 differ)`);
  // step 3 of a global batch of 32: each rank's micro-batches, in rank order, are the 1-worker batch
  const one = microBatchPositions(3, 32, 0, 1, 1).flat().map((p) => a.exampleAt(p));
  for (const workers of [2, 4]) {
    const shards = Array.from({ length: workers }, (_, r) => microBatchPositions(3, 32, r, workers, 2).flat()).flat();
    assert.equal(shards.length, 32);
    shards.forEach((p, i) => assert.ok(same(b.exampleAt(p).input, one[i]!.input), `${workers} workers, example ${i}`));
  }
  // positions are drawn afresh: the next epoch's position of the same slot is another example
  assert.ok(!same(a.exampleAt(5).input, a.exampleAt(5 + 1800).input));
});

test('sampler: spans are windows of their document, term queries its top terms; the mix shares hold', () => {
  const sampling = data.sampling()!;
  const targets = data.docidTokens();
  const s = new MixSampler(data, OPTIONS);
  const counts = { span: 0, terms: 0, other: 0 };
  const N = 4000;
  for (let p = 0; p < N; p++) {
    const ex = s.exampleAt(p);
    assert.equal(ex.input[ex.input.length - 1], 1, 'inputs end with </s>');
    const d = targets.findIndex((t) => same(t, ex.target));
    assert.ok(d >= 0, 'the target is a docid');
    const body = ex.input.subarray(0, ex.input.length - 1);
    const doc = sampling.tokens(d);
    const isSpan = body.length >= 4 && body.length <= 16 && [...Array(doc.length - body.length + 1).keys()].some((o) => same(doc.subarray(o, o + body.length), body));
    const terms = sampling.terms(d);
    if (isSpan) counts.span++;
    else if (isTermQuery(body, terms)) counts.terms++;
    else counts.other++;
  }
  // expected: spans 4/8, terms 2/8, documents + queries 2/8 (a short document's whole text counts as a span)
  assert.ok(Math.abs(counts.span / N - 0.5) < 0.04, `spans ${counts.span / N}`);
  assert.ok(Math.abs(counts.terms / N - 0.25) < 0.04, `terms ${counts.terms / N}`);
  assert.ok(Math.abs(counts.other / N - 0.25) < 0.04, `documents and queries ${counts.other / N}`);
});

/** `body` is 3..6 distinct terms of `terms`, concatenated. */
function isTermQuery(body: Int32Array, terms: Int32Array[]): boolean {
  const go = (at: number, used: Set<number>): boolean => {
    if (at === body.length) return used.size >= 3 && used.size <= 6;
    return terms.some((t, i) => !used.has(i) && t.length > 0 && same(body.subarray(at, at + t.length), t) && go(at + t.length, new Set([...used, i])));
  };
  return go(0, new Set());
}

test('prepare writes sampling.bin: lower-cased document tokens and top tf-idf terms; a damaged file is named', () => {
  const sampling = data.sampling()!;
  assert.equal(sampling.documents, data.manifest.counts.documents);
  assert.equal(data.manifest.lowercase, true);
  const doc0 = data.documents()[0]!.text;
  assert.ok(same(sampling.tokens(0), tok.encode(doc0.toLowerCase(), 257).subarray(0, -1)) || sampling.tokens(0).length === 256);
  const words = sampling.terms(0).map((t) => tok.decode(Array.from(t)));
  assert.equal(words.length, 8);
  for (const w of words) assert.ok(doc0.toLowerCase().includes(w), `term '${w}' is a word of the document`);
  const copy = path.join(dir, 'damaged.bin');
  writeFileSync(copy, readFileSync(path.join(data.dir, SAMPLING_FILE)));
  truncateSync(copy, 4000);
  assert.throws(() => readSamplingFile(copy, data.manifest.counts.documents), (err: Error) => err.message.includes('damaged.bin') && /runs past the end of the file/.test(err.message));
});

test('length buckets: every example exactly once, sorted groups, no worse than one padded batch', () => {
  for (const lengths of [[5, 64, 9, 9, 12, 64, 4, 17], Array.from({ length: 128 }, (_, i) => (i * 37) % 60 + 4), [7]]) {
    const groups = lengthBuckets(lengths);
    assert.deepEqual(groups.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
    const cost = (g: number[][]): number => g.reduce((s, grp) => s + grp.length * Math.max(...grp.map((i) => lengths[i]!)) + 256, 0);
    assert.ok(cost(groups) <= cost([lengths.map((_, i) => i)]));
  }
  // a few long passages among many short spans go apart
  const lengths = [...Array(100).fill(10), ...Array(12).fill(64)];
  const groups = lengthBuckets(lengths);
  assert.equal(groups.length, 2);
  assert.deepEqual(groups.map((g) => g.length), [100, 12]);
});

test('auto: the recipe mix and docid outputs on a prepared folder; the prepared order and full vocabulary without sampling.bin or with text targets', async () => {
  const cfg = loadConfig({ args: [], env: {} });
  assert.equal(trainingData(cfg, data).mix, 'documents:1,spans:4,terms:2,queries:1');
  const out = decoderOutput(cfg, data)!;
  assert.equal(out.ids.length, data.manifest.counts.documents + 1, 'the atomic docid rows and </s>');
  const bi = path.join(dir, 'bidirectional');
  await prepareDataset(prepareOptions(tok, bi, { scheme: 'naive', bm25TopK: 0, indexing: 'bidirectional' }));
  const biData = await openPreparedDataset(bi);
  assert.equal(decoderOutput(cfg, biData), undefined, 'text targets need the whole vocabulary');
  assert.throws(() => decoderOutput(loadConfig({ args: ['--decoder-output', 'docids'], env: {} }), biData), /bidirectional indexing has text targets.*--decoder-output vocab/);
  assert.equal(trainingData(loadConfig({ args: ['--mix', 'prepared'], env: {} }), data).mix, 'prepared');
});

test('prepare --eval-fraction 1: every query is held out, and the mix trains on documents and sampled queries only', async () => {
  const all = path.join(dir, 'all-eval');
  await prepareDataset(prepareOptions(tok, all, { scheme: 'atomic', bm25TopK: 0, evalFraction: 1 }));
  const d = await openPreparedDataset(all);
  assert.equal(d.manifest.counts.train_queries, 0);
  assert.equal(d.queries('eval').length, d.manifest.counts.eval_queries);
  assert.equal(trainingData(loadConfig({ args: [], env: {} }), d).mix, 'documents:1,spans:4,terms:2');
});
