/**
 * prepare's input readers on small files this test writes: MS MARCO v1.1 records as JSON lines and as
 * parquet (written with hyparquet-writer in Hugging Face's schema), passage-ranking TSV + TREC qrels;
 * duplicates, the source-id mapping, malformed input (file:line) and --skip-bad counting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { DOCUMENTS_FILE, QUERIES_FILE, SOURCE_IDS_FILE } from '../shared/dataset/format.js';
import { openPreparedDataset } from '../shared/dataset/reader.js';
import { at, prepareOptions, readJsonl, readTsv } from './prepare_helpers.js';

type DocLine = { docid: string; text: string; source_ids: string[] };
type QueryLine = { qid: string; query: string; docids: string[]; split: string };

const CATS = 'Cats are small carnivorous mammals.';
const DOGS = 'Dogs bark loudly at night.';
const MAT = 'The cat sat on the mat in 1999.';
const BARK = 'Barking is how dogs communicate.';
const PARIS = 'Paris is the capital of France.';

/** v1.1 rows: 102 repeats 101's second passage; 103 has no selected passage. */
const ROWS = [
  { query_id: 101, query: 'what is a cat', query_type: 'description', answers: ['a mammal'], passages: { is_selected: [1, 0, 0], passage_text: [CATS, DOGS, MAT], url: ['u1', 'u2', 'u3'] } },
  { query_id: 102, query: 'why do dogs bark', query_type: 'description', answers: [], passages: { is_selected: [1, 1], passage_text: [DOGS, BARK], url: ['u4', 'u5'] } },
  { query_id: 103, query: 'capital of france', query_type: 'location', answers: [], passages: { is_selected: [0], passage_text: [PARIS], url: ['u6'] } },
];

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-sources-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Hugging Face's ms_marco v1.1 parquet schema (lists as 3-level LIST groups), two row groups of 2 and 1 rows. */
async function writeV11Parquet(file: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const list = (name: string, leaf: Record<string, unknown>): Array<Record<string, unknown>> => [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', repetition_type: 'OPTIONAL', ...leaf },
  ];
  const str = { type: 'BYTE_ARRAY', converted_type: 'UTF8' };
  const schema = [
    { name: 'root', num_children: 5 },
    ...list('answers', str),
    { name: 'passages', repetition_type: 'OPTIONAL', num_children: 3 },
    ...list('is_selected', { type: 'INT32' }), ...list('passage_text', str), ...list('url', str),
    { name: 'query', repetition_type: 'OPTIONAL', ...str },
    { name: 'query_id', repetition_type: 'OPTIONAL', type: 'INT32' },
    { name: 'query_type', repetition_type: 'OPTIONAL', ...str },
  ];
  const names = ['answers', 'passages', 'query', 'query_id', 'query_type'];
  await parquetWriteFile({ filename: file, columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]) })), schema: schema as never, rowGroupSize: 2 });
}

test('MS MARCO v1.1 JSONL and parquet give the same documents and queries; duplicates fold; source ids map to docids', async (t) => {
  const dir = tmp(t);
  const tok = await loadT5Tokenizer();
  // JSONL: the first record in the original list-of-objects shape, the others in Hugging Face's struct of lists
  const first = at(ROWS, 0);
  const listShape = { ...first, passages: first.passages.passage_text.map((text, j) => ({ is_selected: first.passages.is_selected[j], passage_text: text, url: first.passages.url[j] })) };
  writeFileSync(path.join(dir, 'v11.jsonl'), [listShape, ...ROWS.slice(1)].map((r) => JSON.stringify(r)).join('\n') + '\n');
  await writeV11Parquet(path.join(dir, 'v11.parquet'), ROWS);

  const outs: string[] = [];
  for (const input of ['v11.jsonl', 'v11.parquet']) {
    const out = path.join(dir, `out-${input}`);
    const m = await prepareDataset(prepareOptions(tok, out, { format: 'msmarco-v1.1', input: path.join(dir, input), evalFraction: 0.5 }));
    assert.equal(m.source.format, input.endsWith('.parquet') ? 'msmarco-v1.1-parquet' : 'msmarco-v1.1-jsonl');
    assert.equal(m.source.sha256.length, 64);
    const counts = m.pipeline?.['counts'] as Record<string, number>;
    assert.equal(counts['passages_read'], 6);
    assert.equal(counts['duplicate_passages'], 1);
    assert.equal(counts['documents'], 5);
    assert.equal(counts['queries_without_relevant'], 1, 'query 103 has no selected passage');
    outs.push(out);
  }
  assert.equal(readFileSync(path.join(at(outs, 0), DOCUMENTS_FILE), 'utf8'), readFileSync(path.join(at(outs, 1), DOCUMENTS_FILE), 'utf8'));
  assert.equal(readFileSync(path.join(at(outs, 0), QUERIES_FILE), 'utf8'), readFileSync(path.join(at(outs, 1), QUERIES_FILE), 'utf8'));

  const docs = readJsonl<DocLine>(path.join(at(outs, 0), DOCUMENTS_FILE));
  assert.deepEqual(docs.map((d) => d.text), [CATS, DOGS, MAT, BARK, PARIS]);
  assert.deepEqual(docs[1]?.source_ids, ['101:1', '102:0']);
  const docidOf = new Map(docs.map((d) => [d.text, d.docid]));
  assert.deepEqual(new Map(readTsv(path.join(at(outs, 0), SOURCE_IDS_FILE)).map(([s, d]) => [s, d])), new Map([
    ['101:0', docidOf.get(CATS)], ['101:1', docidOf.get(DOGS)], ['102:0', docidOf.get(DOGS)], ['101:2', docidOf.get(MAT)],
    ['102:1', docidOf.get(BARK)], ['103:0', docidOf.get(PARIS)],
  ]));
  const queries = readJsonl<QueryLine>(path.join(at(outs, 0), QUERIES_FILE));
  assert.deepEqual(queries.map((q) => [q.qid, q.docids]), [['101', [docidOf.get(CATS)]], ['102', [docidOf.get(DOGS), docidOf.get(BARK)]]]);
  assert.deepEqual(queries.map((q) => q.split).sort(), ['eval', 'train']);
  const data = await openPreparedDataset(at(outs, 0));
  t.after(() => data.close());
  // 5 indexing examples + one retrieval example per relevant docid of the training query
  const train = at(queries.filter((q) => q.split === 'train'), 0); // evalFraction 0.5 of 2 queries: one is train
  assert.equal(data.numExamples, 5 + train.docids.length);
});

test('MS MARCO passage ranking: collection, queries and qrels; duplicate passages share a docid; unjudged queries counted', async (t) => {
  const dir = tmp(t);
  const tok = await loadT5Tokenizer();
  writeFileSync(path.join(dir, 'collection.tsv'), `0\t${CATS}\n1\t${DOGS}\r\n2\t${CATS}\n3\t${PARIS}\n`);
  writeFileSync(path.join(dir, 'queries.tsv'), '10\twhat is a cat\n11\twhy do dogs bark\n12\tan unjudged query\n');
  writeFileSync(path.join(dir, 'qrels.tsv'), '10 0 0 1\n10 0 2 1\n11 0 1 1\n11 0 3 0\n99 0 3 1\n');
  const out = path.join(dir, 'out');
  const m = await prepareDataset(prepareOptions(tok, out, {
    format: 'msmarco-passage', input: path.join(dir, 'collection.tsv'), queries: path.join(dir, 'queries.tsv'), qrels: path.join(dir, 'qrels.tsv'), evalFraction: 0,
  }));
  const docs = readJsonl<DocLine>(path.join(out, DOCUMENTS_FILE));
  assert.deepEqual(docs.map((d) => [d.text, d.source_ids]), [[CATS, ['0', '2']], [DOGS, ['1']], [PARIS, ['3']]]);
  const queries = readJsonl<QueryLine>(path.join(out, QUERIES_FILE));
  assert.deepEqual(queries.map((q) => [q.qid, q.docids]), [['10', [at(docs, 0).docid]], ['11', [at(docs, 1).docid]]], 'relevance 0 is not relevant');
  const counts = m.pipeline?.['counts'] as Record<string, number>;
  assert.equal(counts['queries_without_relevant'], 1);
  assert.equal(counts['duplicate_passages'], 1);
  assert.equal(counts['qrels_of_unknown_queries'], 1, 'qid 99 is not in the queries file');
  const sources = m.pipeline?.['sources'] as Array<{ role: string; sha256: string }>;
  assert.deepEqual(sources.map((s) => s.role), ['collection', 'queries', 'qrels']);
  for (const s of sources) assert.match(s.sha256, /^[0-9a-f]{64}$/);
});

test('malformed input stops with file:line (or file:row for parquet), naming the field', async (t) => {
  const dir = tmp(t);
  const tok = await loadT5Tokenizer();
  const rows = ROWS.map((r) => JSON.stringify(r));
  const cases: Array<{ name: string; write: () => Promise<void> | void; over: Record<string, unknown>; error: RegExp }> = [
    { name: 'bad.jsonl', write: () => writeFileSync(path.join(dir, 'bad.jsonl'), `${rows[0]}\n{"query_id": 5, "query": "x",\n${rows[1]}\n`),
      over: { format: 'msmarco-v1.1' }, error: /bad\.jsonl:2: not valid JSON/ },
    { name: 'flag.jsonl', write: () => writeFileSync(path.join(dir, 'flag.jsonl'), `${rows[0]}\n\n${JSON.stringify({ ...ROWS[1], passages: { is_selected: [2, 0], passage_text: [DOGS, BARK], url: [] } })}\n`),
      over: { format: 'msmarco-v1.1' }, error: /flag\.jsonl:3: field 'passages\.is_selected\[0\]': expected 0 or 1/ },
    { name: 'bad.parquet', write: () => writeV11Parquet(path.join(dir, 'bad.parquet'), [at(ROWS, 0), { ...at(ROWS, 1), passages: { is_selected: [1], passage_text: ['  '], url: ['u'] } }]),
      over: { format: 'msmarco-v1.1' }, error: /bad\.parquet:2: field 'passages\.passage_text\[0\]': expected a non-empty string/ },
    { name: 'collection.tsv', write: () => writeFileSync(path.join(dir, 'collection.tsv'), `0\t${CATS}\n1\t${DOGS}\n2 no tab here\n`),
      over: { format: 'msmarco-passage', queries: path.join(dir, 'q.tsv'), qrels: path.join(dir, 'qrels.tsv') }, error: /collection\.tsv:3: expected "id<TAB>text"/ },
    { name: 'sample.jsonl', write: () => writeFileSync(path.join(dir, 'sample.jsonl'), '{"qid": "1", "query": "q", "passage": "p", "qrel_pids": [], "pid": null}\n{"qid": "2", "query": "", "passage": "p", "qrel_pids": [], "pid": null}\n'),
      over: { format: 'sample' }, error: /sample\.jsonl:2: field 'query': expected a non-empty string/ },
  ];
  writeFileSync(path.join(dir, 'q.tsv'), '10\twhat is a cat\n');
  writeFileSync(path.join(dir, 'qrels.tsv'), '10 0 0 1\n');
  for (const c of cases) {
    await c.write();
    await assert.rejects(prepareDataset(prepareOptions(tok, path.join(dir, `out-${c.name}`), { input: path.join(dir, c.name), ...c.over })),
      (err: Error) => { assert.equal(err.name, 'InputError', err.message); assert.match(err.message, c.error); return true; }, c.name);
  }
  // a bad qrels line, read before the collection
  writeFileSync(path.join(dir, 'qrels.tsv'), '10 0 0 1\n10 0 1\n');
  writeFileSync(path.join(dir, 'collection.tsv'), `0\t${CATS}\n`);
  await assert.rejects(prepareDataset(prepareOptions(tok, path.join(dir, 'out-qrels'), { input: path.join(dir, 'collection.tsv'), format: 'msmarco-passage', queries: path.join(dir, 'q.tsv'), qrels: path.join(dir, 'qrels.tsv') })),
    /qrels\.tsv:2: expected 4 fields/);
});

test('--skip-bad skips every malformed record, counts it per file and reports the messages in the manifest', async (t) => {
  const dir = tmp(t);
  const tok = await loadT5Tokenizer();
  const file = path.join(dir, 'v11.jsonl');
  const lines = [JSON.stringify(ROWS[0]), 'not json', JSON.stringify(ROWS[1]), JSON.stringify({ ...ROWS[2], query: '' }), JSON.stringify(ROWS[0])];
  writeFileSync(file, lines.join('\n') + '\n');
  const m = await prepareDataset(prepareOptions(tok, path.join(dir, 'out'), { format: 'msmarco-v1.1', input: file, skipBad: true, evalFraction: 0 }));
  const bad = m.pipeline?.['bad_input'] as { skip_bad: boolean; skipped: number; per_file: Record<string, number>; first_errors: string[] };
  assert.equal(bad.skip_bad, true);
  assert.equal(bad.skipped, 3, 'line 2 (JSON), line 4 (empty query), line 5 (duplicate qid 101)');
  assert.deepEqual(bad.per_file, { [file]: 3 });
  assert.match(bad.first_errors[0] ?? '', /v11\.jsonl:2: not valid JSON/);
  assert.match(bad.first_errors[1] ?? '', /v11\.jsonl:4: field 'query'/);
  assert.match(bad.first_errors[2] ?? '', /v11\.jsonl:5: field 'qid': duplicate qid 101/);
  assert.equal((m.pipeline?.['counts'] as Record<string, number>)['bad_records_skipped'], 3);
  assert.equal(m.counts.train_queries, 2, 'queries 101 and 102 are kept');
});
