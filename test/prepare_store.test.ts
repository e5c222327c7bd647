/**
 * The disk-backed corpus: the string spill and hash index it is built on, duplicates merged (also when
 * every hash collides), the source-id mapping written out, and a prepare killed mid-run leaving no
 * folder that looks valid, cleaned up (or its publish finished) by the next run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../shared/runtime/log.js';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { collectCorpus, type Corpus } from '../shared/dataset/prepare/corpus.js';
import { Stages } from '../shared/dataset/prepare/progress.js';
import { BadInputPolicy } from '../shared/dataset/sources/lines.js';
import { openSource } from '../shared/dataset/sources/open.js';
import { StringSpill } from '../shared/dataset/store/string_spill.js';
import { StringHashIndex } from '../shared/dataset/store/hash_index.js';
import { writeSyntheticCollection } from '../shared/dataset/synthetic.js';
import { recoverInterrupted } from '../shared/dataset/writer.js';
import { MANIFEST_FILE, SOURCE_IDS_FILE, DOCUMENTS_FILE, QUERIES_FILE, type DatasetManifest } from '../shared/dataset/format.js';
import { prepareOptions, readJsonl, readTsv } from './prepare_helpers.js';
import { CLI, LogWatcher } from './run_cli.js';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('string spill: any string back by index and in order, read before and after the write buffer is flushed', (t) => {
  const spill = new StringSpill(path.join(tmp(t), 'spill'));
  t.after(() => spill.close());
  const long = 'ü€😀'.repeat(300_000);                 // 2.7 MB of UTF-8: larger than the write buffer and a read chunk
  const texts = ['', 'a', 'straße', long, 'tab\there', '日本語のテキスト', long.slice(1)];
  for (let i = 0; i < 5000; i++) texts.push(`passage ${i} ${'x'.repeat(i % 97)}`);
  texts.forEach((s, i) => {
    assert.equal(spill.append(s), i);
    if (i % 1000 === 7) assert.equal(spill.get(i), s);   // still in the write buffer
  });
  assert.equal(spill.count, texts.length);
  for (const i of [6, 0, 3, 5000, 1, 2, 4, 3]) assert.equal(spill.get(i), texts[i]);
  assert.deepEqual([...spill.values()], texts);
  assert.equal(spill.diskBytes, texts.reduce((s, x) => s + Buffer.byteLength(x), 0));
  assert.ok(spill.residentBytes < 2 * 2 ** 20 + 16 * texts.length * 2, `resident ${spill.residentBytes}`);
  spill.close();
  assert.ok(!existsSync(spill.file), 'close deletes the file');
  assert.throws(() => spill.get(0), /closed/);
});

test('hash index: exact with a hash that collides for every key, and without', () => {
  const keys = Array.from({ length: 3000 }, (_, i) => `key-${i % 1500}-${i < 1500 ? 'a' : 'b'}`);
  for (const hash of [undefined, (_s: string, out: Uint32Array) => { out[0] = 7; out[1] = 7; }]) {
    const index = new StringHashIndex((v) => keys[v] as string, hash);
    keys.forEach((k, i) => { assert.equal(index.get(k), -1); index.add(k, i); });
    keys.forEach((k, i) => assert.equal(index.get(k), i));
    assert.equal(index.get('key-1500-a'), -1);
    assert.equal(index.size, keys.length);
  }
});

/** A collection with repeated texts and a pid given twice, its queries and qrels. */
function duplicatesInput(dir: string): { input: string; queries: string; qrels: string } {
  const files = { input: path.join(dir, 'collection.tsv'), queries: path.join(dir, 'queries.tsv'), qrels: path.join(dir, 'qrels.tsv') };
  writeFileSync(files.input, ['10\tAlpha passage.', '11\tBeta passage.', '12\tAlpha passage.', '13\tGamma passage.', '11\tGamma passage.', '14\tBeta passage.', '15\tAlpha passage.'].join('\n') + '\n');
  writeFileSync(files.queries, ['1\twhat is alpha', '2\twhat is beta', '3\tnothing here', '4\tgamma'].join('\n') + '\n');
  writeFileSync(files.qrels, ['1 0 12 1', '2 0 14 1', '3 0 99 1', '4 0 13 1', '4 0 15 1'].join('\n') + '\n');
  return files;
}

test('duplicates merge into one document; every source id is mapped to its docid in source_ids.tsv', async (t) => {
  const dir = tmp(t);
  const out = path.join(dir, 'out');
  const tok = await loadT5Tokenizer();
  const m = await prepareDataset(prepareOptions(tok, out, { format: 'msmarco-passage', ...duplicatesInput(dir), scheme: 'atomic', evalFraction: 0, bm25TopK: 0 }));
  const docs = readJsonl<{ docid: string; text: string; source_ids: string[] }>(path.join(out, DOCUMENTS_FILE));
  assert.deepEqual(docs, [
    { docid: '0', text: 'Alpha passage.', source_ids: ['10', '12', '15'] },
    { docid: '1', text: 'Beta passage.', source_ids: ['11', '14'] },
    { docid: '2', text: 'Gamma passage.', source_ids: ['13'] },
  ]);
  assert.deepEqual(readTsv(path.join(out, SOURCE_IDS_FILE)), [['10', '0'], ['12', '0'], ['15', '0'], ['11', '1'], ['14', '1'], ['13', '2']]);
  const counts = m.pipeline?.['counts'] as Record<string, number>;
  assert.deepEqual([counts['passages_read'], counts['duplicate_passages'], counts['conflicting_source_ids'], counts['relevant_ids_not_in_collection'], counts['queries_without_relevant']], [7, 4, 1, 1, 1]);
  // query 4's qrels 13 and 15 name two documents
  assert.deepEqual(readJsonl<{ qid: string; docids: string[] }>(path.join(out, QUERIES_FILE)).map((q) => [q.qid, q.docids]), [['1', ['0']], ['2', ['1']], ['4', ['2', '0']]]);
});

async function corpusOf(dir: string, files: { collection: string; queries: string; qrels: string }, hash?: (s: string, out: Uint32Array) => void): Promise<Corpus> {
  const work = path.join(dir, hash ? 'weak' : 'strong');
  mkdirSync(work);
  const source = await openSource('msmarco-passage', { input: files.collection, queries: files.queries, qrels: files.qrels });
  return collectCorpus(source, new BadInputPolicy(false), new Stages(createLogger({ level: 'silent' })), work, hash);
}

test('a 64-bit hash collision never merges two texts: the store confirms every match by reading the text back', async (t) => {
  const dir = tmp(t);
  const files = writeSyntheticCollection({ dir: path.join(dir, 'in'), passages: 600, duplicateShare: 0.2, seed: 3 });
  assert.ok(files.duplicates > 80, `duplicates: ${files.duplicates}`);
  const strong = await corpusOf(dir, files);
  const weak = await corpusOf(dir, files, (s, out) => { out[0] = 1; out[1] = s.length & 3; }); // 4 hash values in all
  t.after(() => { strong.docs.close(); weak.docs.close(); });
  // the collection's distinct texts, counted here without the store
  const lines = readTsv(files.collection);
  const distinct = [...new Set(lines.map((l) => l[1] as string))];
  assert.equal(strong.docs.count, distinct.length);
  assert.equal(strong.docs.count, lines.length - files.duplicates);
  assert.deepEqual([...weak.docs.texts()], distinct);
  assert.deepEqual([...strong.docs.texts()], distinct);
  for (const [pid, text] of lines) assert.equal(strong.docs.text(strong.docs.documentOfSourceId(pid as string)), text);
  for (let d = 0; d < distinct.length; d++) assert.deepEqual(weak.docs.sourceIds(d), strong.docs.sourceIds(d));
  assert.deepEqual(weak.queries, strong.queries);
  assert.deepEqual(weak.counts, strong.counts);
  assert.ok(weak.docs.footprint.keyReads > 10 * strong.docs.footprint.keyReads, 'the weak hash made the store read keys back');
});

/** The pid of a process that has exited (so no process has it, barring reuse within the test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? assert.fail('no pid');
}

test('recoverInterrupted: a dead run\'s complete tmp folder is published, else the folder it replaced is put back; the rest is deleted', async (t) => {
  const dir = tmp(t);
  const pid = await deadPid();
  const folder = (name: string, files: string[]): string => {
    const p = path.join(dir, name);
    mkdirSync(p);
    for (const f of files) writeFileSync(path.join(p, f), f);
    return p;
  };
  // a) killed between manifest and rename: published
  folder(`.a.tmp-${pid}-abc`, ['examples.bin', MANIFEST_FILE]);
  folder(`.a.work-${pid}-abb`, ['documents.text']);
  // b) killed while the new folder was written, after the old one was moved aside: the old one comes back
  folder(`.b.old-${pid}-abc`, ['old.txt', MANIFEST_FILE]);
  folder(`.b.tmp-${pid}-abc`, ['examples.bin']);
  // c) a complete target: leftovers go, the target stays; d) a live run's folders (this process) stay
  folder('c', ['keep.txt']);
  folder(`.c.tmp-${pid}-abc`, [MANIFEST_FILE]);
  folder(`.c.work-${process.pid}-abc`, []);
  const a = await recoverInterrupted(path.join(dir, 'a'));
  assert.deepEqual(a.map((r) => r.action).sort(), ['published', 'removed']);
  assert.deepEqual(readdirSync(path.join(dir, 'a')).sort(), ['examples.bin', MANIFEST_FILE]);
  const b = await recoverInterrupted(path.join(dir, 'b'));
  assert.deepEqual(b.map((r) => r.action).sort(), ['removed', 'restored']);
  assert.deepEqual(readdirSync(path.join(dir, 'b')).sort(), [MANIFEST_FILE, 'old.txt']);
  await recoverInterrupted(path.join(dir, 'c'));
  assert.deepEqual(readdirSync(path.join(dir, 'c')), ['keep.txt']);
  assert.deepEqual(readdirSync(dir).sort(), [`.c.work-${process.pid}-abc`, 'a', 'b', 'c']);
});

test('prepare killed mid-run leaves no --out folder; the rerun cleans up and writes what an uninterrupted run writes', async (t) => {
  const dir = tmp(t);
  const files = writeSyntheticCollection({ dir: path.join(dir, 'in'), passages: 3000, seed: 5 });
  const args = (out: string): string[] => ['prepare', '--format', 'msmarco-passage', '--input', files.collection, '--queries', files.queries,
    '--qrels', files.qrels, '--out', out, '--augment', 'stopwords', '--bm25-top-k', '10', '--docids', 'naive', '--json'];
  const out = path.join(dir, 'out');
  const child = spawn(process.execPath, [CLI, ...args(out)], { env: { ...process.env, DSI_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = new LogWatcher(child);
  await logs.until((l) => l.msg === 'stage' && l['stage'] === 'tokenize + write examples');
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(!existsSync(out), 'no --out folder after the kill');
  const left = readdirSync(dir).filter((n) => n.startsWith('.out.'));
  assert.ok(left.some((n) => n.startsWith('.out.prepare-')), `the work folder stays behind for the rerun to resume: ${left.join(', ')}`);

  const again = spawn(process.execPath, [CLI, ...args(out)], { env: { ...process.env, DSI_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  again.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  const code = await new Promise((resolve) => again.once('exit', resolve));
  assert.equal(code, 0);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'the leftovers were removed');
  const reference = path.join(dir, 'reference');
  const tok = await loadT5Tokenizer();
  const ref = await prepareDataset(prepareOptions(tok, reference, { format: 'msmarco-passage', input: files.collection, queries: files.queries, qrels: files.qrels, augment: 'stopwords', bm25TopK: 10, seed: 42 }));
  const m = JSON.parse(stdout) as DatasetManifest;
  assert.deepEqual(m.files, ref.files);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, MANIFEST_FILE), 'utf8')), m);
});
