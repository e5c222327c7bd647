/**
 * Semantic docids beyond the sample bounds: embeddings in a float32 file, k-means nodes larger than
 * `sampleSize` fitted on a sample and assigned by nearest centroid, TF-IDF + SVD fitted on a sample of
 * the corpus. Small bounds through the options/config keep these fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddingFile, EmbeddingFileWriter } from '../shared/dataset/docids/embedding_file.js';
import { semanticDocids } from '../shared/dataset/docids/semantic_ids.js';
import { fitSampleIndices, sampleIndices } from '../shared/dataset/docids/embedder.js';
import { fitTfidfSvdModel } from '../shared/dataset/docids/tfidf_svd.js';
import { mixSeed, Rng } from '../shared/runtime/random.js';
import { loadT5Tokenizer } from '../shared/dataset/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { DOCIDS_FILE, DOCUMENTS_FILE } from '../shared/dataset/format.js';
import { prepareOptions, readJsonl } from './prepare_helpers.js';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-semantic-scale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeFile(file: string, rows: readonly Float32Array[]): EmbeddingFile {
  const w = new EmbeddingFileWriter(file, rows[0]?.length ?? 1);
  for (const r of rows) w.append(r);
  return w.finish();
}

/** Unique digit strings, prefix-free, leaves of at most maxLeaf with positions 00.. in input order. */
function assertWellFormed(ids: string[], n: number, maxLeaf: number): Map<string, number[]> {
  assert.equal(ids.length, n);
  assert.equal(new Set(ids).size, n, 'ids are unique');
  for (const id of ids) assert.match(id, /^\d+$/);
  const sorted = [...ids].sort();
  for (let i = 1; i < sorted.length; i++) assert.ok(!(sorted[i] as string).startsWith(sorted[i - 1] as string), 'prefix-free');
  const leaves = new Map<string, number[]>();
  ids.forEach((id, i) => leaves.set(id.slice(0, -2), [...(leaves.get(id.slice(0, -2)) ?? []), i]));
  for (const [leaf, members] of leaves) {
    assert.ok(members.length <= maxLeaf, `leaf ${leaf} has ${members.length} > ${maxLeaf}`);
    assert.deepEqual(members.map((i) => (ids[i] as string).slice(-2)), members.map((_, p) => String(p).padStart(2, '0')));
  }
  return leaves;
}

test('embeddings file: rows back by index lists, runs and gaps; bad rows and a truncated file named', (t) => {
  const dir = tmp(t);
  const rows = Array.from({ length: 5000 }, (_, i) => Float32Array.from([i, -i, i / 7]));
  const f = writeFile(path.join(dir, 'e.f32'), rows);
  assert.equal(f.count, 5000);
  const members = Uint32Array.from([0, 1, 2, 3, 17, 2047, 2048, 2049, 4999]);
  const got: number[][] = [];
  f.forEach(members, (row, j) => { assert.equal(row[0], members[j]); got.push(Array.from(row)); });
  assert.deepEqual(got, Array.from(members, (i) => Array.from(rows[i] as Float32Array)));
  const all = Uint32Array.from(rows.keys());
  let seen = 0;
  f.forEach(all, (row, j) => { assert.equal(row[1], -j); seen++; });
  assert.equal(seen, 5000);
  assert.throws(() => f.forEach(Uint32Array.from([5000]), () => {}), /row 5000 requested, the file has 5000/);
  f.remove();
  assert.equal(existsSync(path.join(dir, 'e.f32')), false);

  const w = new EmbeddingFileWriter(path.join(dir, 'bad.f32'), 2);
  w.append([1, 2]);
  assert.throws(() => w.append([1, NaN]), /bad\.f32: embedding of document 1, dimension 1 is NaN/);
  assert.throws(() => w.append([1]), /embedding of document 1 has dimension 1, expected 2/);
  w.abort();
  const short = writeFile(path.join(dir, 'short.f32'), rows.slice(0, 10));
  truncateSync(path.join(dir, 'short.f32'), 3 * 4 * 5);
  assert.throws(() => short.forEach(Uint32Array.from([7]), () => {}), /short\.f32: ends before row 7/);
  short.remove();
});

test('sample of indices: all when the corpus is no larger, else that many distinct, ascending, seeded', () => {
  assert.deepEqual(Array.from(sampleIndices(5, 10, 1)), [0, 1, 2, 3, 4]);
  const s = sampleIndices(10_000, 300, 9);
  assert.equal(s.length, 300);
  for (let i = 1; i < s.length; i++) assert.ok((s[i] as number) > (s[i - 1] as number));
  assert.ok((s[299] as number) < 10_000 && (s[299] as number) > 9000 && (s[0] as number) < 1000, 'spread over the range');
  assert.deepEqual(sampleIndices(10_000, 300, 9), s);
  assert.notDeepEqual(sampleIndices(10_000, 300, 10), s);
});

test('3000 documents from a file, k-means nodes sampled at 250: blobs keep their prefixes, same ids twice', (t) => {
  const rng = new Rng(21);
  // 3 far-apart groups of 10 sub-blobs of 100: the top node (3000) and each group (1000) are sampled
  const emb: Float32Array[] = [];
  for (let g = 0; g < 3; g++) {
    for (let s = 0; s < 10; s++) {
      const centre = [1000 * g + 40 * (s % 5), 600 * g + 40 * Math.floor(s / 5), 30 * s - 300 * g];
      for (let i = 0; i < 100; i++) emb.push(Float32Array.from(centre, (c) => c + 0.5 * rng.nextNormal()));
    }
  }
  // interleave, so that a node's documents are not contiguous in the file (the reader's gaps)
  const order = new Rng(mixSeed(21, 1)).permutation(emb.length);
  const shuffled = Array.from(order, (i) => emb[i] as Float32Array);
  const blobOf = Array.from(order, (i) => Math.floor(i / 100));
  const dir = tmp(t);
  const file = writeFile(path.join(dir, 'e.f32'), shuffled);
  const options = { seed: 4, k: 3, maxLeaf: 100, sampleSize: 250 };
  const ids = semanticDocids(file, options);
  assertWellFormed(ids, 3000, 100);
  // the groups split first, each its own first digit
  const firstDigit = [0, 1, 2].map((g) => new Set(ids.filter((_, i) => Math.floor((blobOf[i] as number) / 10) === g).map((id) => id[0])));
  for (const s of firstDigit) assert.equal(s.size, 1);
  assert.equal(new Set(firstDigit.map((s) => [...s][0])).size, 3);
  // no sub-blob of 100 is cut by a split: each lies within one prefix one digit short of its leaf's
  const blobPrefixes = new Map<number, Set<string>>();
  ids.forEach((id, i) => blobPrefixes.set(blobOf[i] as number, (blobPrefixes.get(blobOf[i] as number) ?? new Set()).add(id.slice(0, 2))));
  for (const [blob, prefixes] of blobPrefixes) assert.equal(prefixes.size, 1, `blob ${blob} under ${[...prefixes]}`);
  // at every inner node (the top and the groups were sampled), each document is nearest the mean of
  // its own child group among its siblings': the prefix groups are the clustering's cells
  const prefixes = new Set(ids.flatMap((id) => Array.from({ length: id.length - 3 }, (_, n) => id.slice(0, n))));
  let checked = 0;
  for (const p of prefixes) {
    const members = ids.flatMap((id, i) => (id.startsWith(p) && id.length > p.length + 2 ? [i] : []));
    const children = new Map<string, number[]>();
    for (const i of members) children.set((ids[i] as string)[p.length] as string, [...(children.get((ids[i] as string)[p.length] as string) ?? []), i]);
    const mean = (g: number[]): number[] => [0, 1, 2].map((d) => g.reduce((s, i) => s + (shuffled[i]?.[d] as number), 0) / g.length);
    const means = [...children].map(([c, g]) => [c, mean(g)] as const);
    const dist = (i: number, c: readonly number[]): number => c.reduce((s, x, d) => s + (x - (shuffled[i]?.[d] as number)) ** 2, 0);
    for (const [c, group] of children) {
      for (const i of group) {
        const own = dist(i, means.find(([o]) => o === c)?.[1] ?? []);
        for (const [o, m] of means) if (o !== c) assert.ok(own <= dist(i, m) + 1e-6, `doc ${i} under '${p}'`);
      }
    }
    checked++;
  }
  assert.ok(checked >= 4 && prefixes.has(''), `inner nodes checked: ${checked}`);
  // the file and the same rows in memory give the same ids; a second run too; another sample bound differs only in how it fits
  assert.deepEqual(semanticDocids(file, options), ids, 'seeded: same ids on a second run');
  assert.deepEqual(semanticDocids(shuffled, options), ids, 'file and memory agree');
  assert.throws(() => semanticDocids(file, { ...options, sampleSize: 2 }), /option 'sampleSize' must be an integer >= k \(3\), got 2/);
  file.remove();
});

test('identical and nearly identical documents beyond the sample bound: split by order, unique, terminates', (t) => {
  const dir = tmp(t);
  const same = writeFile(path.join(dir, 'same.f32'), Array.from({ length: 2345 }, () => Float32Array.from([0.5, -1, 2])));
  assertWellFormed(semanticDocids(same, { seed: 3, sampleSize: 50 }), 2345, 100);
  same.remove();
  // 2 documents differ among 2000: the sample (50) likely misses them, the node still splits
  const rows = Array.from({ length: 2000 }, (_, i) => Float32Array.from(i === 7 || i === 1500 ? [9, 9] : [0, 0]));
  const few = writeFile(path.join(dir, 'few.f32'), rows);
  assertWellFormed(semanticDocids(few, { seed: 3, sampleSize: 50 }), 2000, 100);
  few.remove();
});

test('prepare with bounds below the corpus: TF-IDF fitted on 400 of 1000, k-means sampled at 150; same docids twice', async (t) => {
  const tok = await loadT5Tokenizer();
  const dir = tmp(t);
  const over = { scheme: 'semantic' as const, bm25TopK: 0, semanticFitSample: 400, semanticKmeansSample: 150 };
  const m = await prepareDataset(prepareOptions(tok, path.join(dir, 'a'), over));
  const info = m.pipeline?.['docids'] as { embedder: { name: string; fit_documents: number }; kmeans_sample: number };
  assert.deepEqual([info.embedder.name, info.embedder.fit_documents, info.kmeans_sample], ['tfidf-svd', 400, 150]);
  assert.ok(!readdirSync(path.join(dir, 'a')).some((f) => f.endsWith('.f32')), 'the embeddings file is removed');
  const docs = readJsonl<{ docid: string; text: string }>(path.join(dir, 'a', DOCUMENTS_FILE));
  const ids = docs.map((d) => d.docid);
  assertWellFormed(ids, 1000, 100);
  assert.ok(Math.max(...ids.map((id) => id.length)) >= 4, 'at least two cluster levels');
  // the ids are the clustering of embeddings made as documented: the model fitted on the seeded
  // sample of texts, every document embedded by it
  const picked = new Set(fitSampleIndices(docs.length, 400, 7));
  const model = fitTfidfSvdModel(docs.filter((_, i) => picked.has(i)).map((d) => d.text), { seed: 7 });
  assert.deepEqual(semanticDocids(model.embed(docs.map((d) => d.text)), { seed: 7, sampleSize: 150 }), ids, 'the ids are the clustering of the embeddings');
  await prepareDataset(prepareOptions(tok, path.join(dir, 'b'), over));
  assert.equal(readFileSync(path.join(dir, 'b', DOCIDS_FILE), 'utf8'), readFileSync(path.join(dir, 'a', DOCIDS_FILE), 'utf8'), 'same docids on a second run');
});
