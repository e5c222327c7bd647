/**
 * The prepared-dataset folder as `coordinator prepare` writes it from the bundled sample (plain corpus:
 * no augmentation, no BM25), read back: docids, examples, seeded split, integrity checks, the writer's
 * refusals. (These tests once ran a separate sample preparer; prepare now writes the same examples.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../shared/runtime/errors.js';
import { SAMPLE_JSONL } from '../shared/runtime/paths.js';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset, type PrepareOptions } from '../shared/dataset/prepare/prepare.js';
import { ATOMIC_TOKEN_BASE, DIGIT_TOKENS, docidToTokens, tokensToDocid } from '../shared/dataset/docids/docids.js';
import { EXAMPLE_KIND_INDEXING, EXAMPLE_KIND_RETRIEVAL } from '../shared/dataset/format.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { prepareOptions } from './prepare_helpers.js';

const tok = await loadT5Tokenizer();
const root = await mkdtemp(join(tmpdir(), 'dsi-dataset-'));
test.after(() => rm(root, { recursive: true, force: true }));

/** The sample's plain corpus: one indexing example per document, one retrieval example per training query. */
const plain = (out: string, over: Partial<PrepareOptions> = {}) =>
  prepareDataset(prepareOptions(tok, out, { bm25TopK: 0, ...over }));
const prepare = (out: string, scheme: 'naive' | 'atomic', seed: number) => plain(join(root, out), { scheme, seed });
// prepared once, shared by the tests below
const naive = await prepare('naive-1', 'naive', 1);
const atomic = await prepare('atomic-1', 'atomic', 1);

test('digit table: the vocabulary pieces "0".."9" and their targets', () => {
  assert.deepEqual(DIGIT_TOKENS, Array.from({ length: 10 }, (_, d) => tok.pieceId(String(d))));
  assert.deepEqual(docidToTokens('naive', '042'), Int32Array.from([632, 591, 357, 1]));
  assert.deepEqual(docidToTokens('semantic', '9'), Int32Array.from([1298, 1]));
  assert.deepEqual(docidToTokens('semantic', '31415'), Int32Array.from([519, 536, 591, 536, 755, 1]));
  assert.deepEqual(docidToTokens('atomic', '7'), Int32Array.from([32135, 1]));
  assert.equal(tokensToDocid('naive', [632, 591, 357, 1, 0, 0]), '042');
  assert.equal(tokensToDocid('semantic', [948, 940]), '67'); // no </s>: read to the end
  assert.equal(tokensToDocid('naive', [632, 8, 1]), undefined); // "▁the" is no digit
  assert.equal(tokensToDocid('naive', [1]), undefined);
  assert.equal(tokensToDocid('atomic', [ATOMIC_TOKEN_BASE + 999, 1]), '999');
  assert.equal(tokensToDocid('atomic', [632, 1]), undefined);
  assert.throws(() => docidToTokens('naive', '12a'), /non-empty string of digits/);
  assert.throws(() => docidToTokens('atomic', '007'), /without leading zeros/);
});

test('the sample prepares into 1000 documents, 800 train and 200 eval queries, 1800 examples', async (t) => {
  for (const m of [naive, atomic]) {
    assert.deepEqual(m.counts, { documents: 1000, train_examples: 1800, eval_queries: 200, train_queries: 800 });
    assert.equal(m.tokenizer.sha256, tok.sha256);
    assert.equal(m.source.sha256, '4ae888c8cf1da9c7d4a8f8eb4f311dfd41e99c03d9fb56a53348f95159a279d6'); // data/msmarco-sample/MANIFEST.txt
  }
  assert.equal(naive.model_vocab_size, 32128);
  assert.equal(atomic.model_vocab_size, 32128 + 1000);
  const ds = await openPreparedDataset(join(root, 'naive-1'));
  t.after(() => ds.close());
  assert.deepEqual(ds.manifest, naive);
  assert.equal(ds.numExamples, 1800);
  const docs = ds.documents();
  const train = ds.queries('train'), evalQ = ds.queries('eval');
  assert.equal(docs.length, 1000);
  assert.equal(train.length, 800);
  assert.equal(evalQ.length, 200);
  assert.equal(new Set([...train, ...evalQ].map((q) => q.qid)).size, 1000);
  assert.equal(docs[0]?.sourceIds[0], '7067032'); // the first line's pid
  assert.equal(new Set(docs.map((d) => d.text)).size, 1000);
});

test('naive docids are a seeded permutation of 000..999; atomic docids are document indexes', async (t) => {
  const ds = await openPreparedDataset(join(root, 'naive-1'));
  t.after(() => ds.close());
  const ids = ds.documents().map((d) => d.docid);
  assert.deepEqual([...ids].sort(), Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')));
  assert.notDeepEqual(ids, [...ids].sort()); // shuffled, not sequential
  const tokens = ds.docidTokens();
  assert.equal(tokens.length, 1000);
  tokens.forEach((t, d) => assert.equal(tokensToDocid('naive', t), ids[d]));

  const at = await openPreparedDataset(join(root, 'atomic-1'));
  t.after(() => at.close());
  const docs = at.documents();
  docs.forEach((doc, i) => assert.equal(doc.docid, String(i)));
  // indexing examples come first, in document order
  for (const i of [0, 1, 500, 999]) {
    const ex = at.example(i);
    assert.equal(ex.kind, EXAMPLE_KIND_INDEXING);
    assert.deepEqual(ex.target, Int32Array.from([32128 + i, 1]));
  }
  assert.deepEqual(at.docidTokens()[999], Int32Array.from([33127, 1]));
});

test('examples hold the tokens of their source text; eval queries never become examples', async (t) => {
  const ds = await openPreparedDataset(join(root, 'naive-1'));
  t.after(() => ds.close());
  const docs = ds.documents();
  const docTokens = new Map(docs.map((d) => [d.docid, docidToTokens('naive', d.docid)]));
  docs.forEach((doc, i) => {
    const ex = ds.example(i);
    assert.equal(ex.kind, EXAMPLE_KIND_INDEXING);
    // texts are lower-cased before tokenizing (the manifest says so; MS MARCO queries are lower case)
    assert.equal(ds.manifest.lowercase, true);
    const expected = tok.encode(doc.text.toLowerCase(), 64);
    assert.deepEqual(ex.input, expected);
    assert.equal(tok.decode(ex.input), tok.decode(expected));
    assert.deepEqual(ex.target, docTokens.get(doc.docid));
  });
  assert.equal(ds.example(0).input.length, 64); // the first passage is long: cut, still ending with </s>
  assert.equal(ds.example(0).input[63], 1);
  const train = ds.queries('train');
  train.forEach((q, k) => {
    const ex = ds.example(1000 + k);
    assert.equal(ex.kind, EXAMPLE_KIND_RETRIEVAL);
    assert.equal(tok.decode(ex.input), tok.decode(tok.encode(q.query.toLowerCase(), 64)));
    assert.deepEqual(ex.target, docTokens.get(q.docids[0] ?? ''));
  });
  const trainInputs = new Set(train.map((_, k) => ds.example(1000 + k).input.join(',')));
  for (const q of ds.queries('eval')) assert.ok(!trainInputs.has(tok.encode(q.query.toLowerCase(), 64).join(',')), `eval query ${q.qid} is a training example`);
  assert.throws(() => ds.example(1800), /example index 1800 outside \[0, 1800\)/);
});

test('same seed gives byte-identical files; another seed another assignment and split', async (t) => {
  await prepare('naive-1-again', 'naive', 1);
  const other = await prepare('naive-2', 'naive', 2);
  const bytes = (dir: string, f: string) => readFile(join(root, dir, f));
  assert.ok((await bytes('naive-1', 'examples.bin')).equals(await bytes('naive-1-again', 'examples.bin')));
  assert.ok((await bytes('naive-1', 'examples.idx')).equals(await bytes('naive-1-again', 'examples.idx')));
  assert.notEqual(other.files['examples.bin']?.sha256, naive.files['examples.bin']?.sha256);
  const a = await openPreparedDataset(join(root, 'naive-1'));
  const b = await openPreparedDataset(join(root, 'naive-2'));
  t.after(() => { a.close(); b.close(); });
  const da = a.documents(), db = b.documents();
  const moved = da.filter((d, i) => d.docid !== db[i]?.docid).length;
  assert.ok(moved > 900, `only ${moved} of 1000 documents changed docid`);
  assert.notDeepEqual(a.queries('eval').map((q) => q.qid), b.queries('eval').map((q) => q.qid));
});

test('a malformed JSONL line is reported as file:LINE', async () => {
  const lines = (await readFile(SAMPLE_JSONL, 'utf8')).split('\n').slice(0, 5);
  const bad = join(root, 'bad.jsonl');
  await writeFile(bad, [...lines.slice(0, 3), '{"qid": "1", "query": ', ...lines.slice(3)].join('\n'));
  await assert.rejects(plain(join(root, 'bad-out'), { input: bad, seed: 1 }),
    (err: unknown) => err instanceof InputError && err.message.startsWith(`${bad}:4: not valid JSON`));
  const noQuery = JSON.stringify({ qid: '9', passage: 'p', qrel_pids: [], pid: null });
  await writeFile(bad, [lines[0], noQuery].join('\n'));
  await assert.rejects(plain(join(root, 'bad-out'), { input: bad, seed: 1 }),
    { message: `${bad}:2: field 'query': expected a non-empty string, got nothing` });
  await assert.rejects(readdir(join(root, 'bad-out')), { code: 'ENOENT' }); // nothing written
});

test('open detects a changed byte, a missing file and a newer version, naming the file', async () => {
  const dir = join(root, 'corrupt');
  await cp(join(root, 'naive-1'), dir, { recursive: true });
  const bin = join(dir, 'examples.bin');
  const data = await readFile(bin);
  data[1234] = (data[1234] ?? 0) ^ 0x01;
  await writeFile(bin, data);
  await assert.rejects(openPreparedDataset(dir), (err: unknown) =>
    err instanceof InputError && err.message.startsWith(`${bin}: sha256 `) && err.message.includes('differs from the manifest'));
  await writeFile(bin, data.subarray(0, data.length - 4));
  await assert.rejects(openPreparedDataset(dir), { message: `${bin}: is ${data.length - 4} bytes, the manifest records ${data.length}: the file changed after prepare` });
  await rm(bin);
  await assert.rejects(openPreparedDataset(dir), { message: `${bin}: missing: the folder is incomplete, prepare it again` });

  const manifestFile = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Record<string, unknown>;
  await writeFile(manifestFile, JSON.stringify({ ...manifest, version: 2 }));
  await assert.rejects(openPreparedDataset(dir), {
    message: `${manifestFile}: field 'version': written by a newer dataset format (version 2); this program reads version 1: update it or prepare the data again`,
  });
  await writeFile(manifestFile, JSON.stringify({ ...manifest, counts: { documents: 1000 } }));
  await assert.rejects(openPreparedDataset(dir), { message: `${manifestFile}: field 'counts.train_examples': expected an integer >= 0, got nothing` });
});

test('the writer refuses a non-empty folder unless asked, and leaves no temporary folder', async () => {
  const out = join(root, 'reuse');
  await mkdir(out);
  await writeFile(join(out, 'keep.txt'), 'x');
  await assert.rejects(prepare('reuse', 'atomic', 3), { message: `${out}: folder exists and is not empty: pass overwrite to replace it` });
  assert.deepEqual(await readdir(out), ['keep.txt']);
  await plain(out, { scheme: 'atomic', seed: 3, overwrite: true });
  assert.deepEqual((await readdir(out)).sort(),
    ['augmented.jsonl', 'docids.txt', 'documents.jsonl', 'examples.bin', 'examples.idx', 'manifest.json', 'queries.jsonl', 'sampling.bin', 'source_ids.tsv']);
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('.')), []);
});
