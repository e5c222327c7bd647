import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Builder, buildBm25Index } from '../shared/dataset/retrieval/bm25.js';
import type { Bm25Doc } from '../shared/dataset/retrieval/bm25.js';
import { Rng } from '../shared/runtime/random.js';

// N = 3 documents of 6, 3 and 4 terms: avgdl = 13/3. "cat" and "dog" are each in 2 documents.
const corpus: Bm25Doc[] = [
  { docid: 'd1', text: 'The cat sat on the mat.' },
  { docid: 'd2', text: 'the dog sat' },
  { docid: 'd3', text: 'Cat, cat, CAT... dog!' },
];
const close = (actual: number | undefined, expected: number): void =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${actual} != ${expected}`);

test('BM25 scores equal hand-computed values (k1 = 0.9, b = 0.4)', async () => {
  const index = await buildBm25Index(corpus);
  assert.equal(index.size, 3);
  assert.equal(index.avgDocLength, 13 / 3);
  // idf(cat) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700036292457356
  // d3: tf 3, dl 4: K = 0.9 (0.6 + 0.4 · 4 / 4.3333) = 0.8723077;  0.4700036 · 3 / 3.8723077 = 0.3641268
  // d1: tf 1, dl 6: K = 0.9 (0.6 + 0.4 · 6 / 4.3333) = 1.0384615;  0.4700036 · 1 / 2.0384615 = 0.2305678
  const cat = index.search('cat');
  assert.deepEqual(cat.map((h) => h.docid), ['d3', 'd1']);
  close(cat[0]?.score, 0.36412676878394296);
  close(cat[1]?.score, 0.23056781812054958);
  // "cat dog": d3 adds dog (tf 1): 0.4700036 / 1.8723077 = 0.2510389; d2 (dl 3): 0.4700036 / 1.7892308 = 0.2626847
  const both = index.search('cat dog');
  assert.deepEqual(both.map((h) => h.docid), ['d3', 'd2', 'd1']);
  close(both[0]?.score, 0.6151558230236538);
  close(both[1]?.score, 0.26268474549417725);
  // a repeated query term counts once per occurrence
  close(index.search('cat cat')[0]?.score, 2 * 0.36412676878394296);
});

test('k1 and b are honoured: b = 0 ignores document length', async () => {
  const index = await buildBm25Index(corpus, { b: 0 });
  // d3: 0.4700036 · 3 / (3 + 0.9) = 0.3615413
  close(index.search('cat')[0]?.score, 0.3615412532659505);
  assert.throws(() => new Bm25Builder({ b: 1.5 }), /option 'b' must be in \[0, 1\], got 1.5/);
});

test('k bounds the results; unknown terms and no overlap give fewer', async () => {
  const index = await buildBm25Index(corpus);
  assert.deepEqual(index.search('cat dog', 2).map((h) => h.docid), ['d3', 'd2']);
  assert.deepEqual(index.search('the').map((h) => h.docid), ['d1', 'd2']);  // only d1, d2 contain "the"
  assert.deepEqual(index.search('unicorn'), []);
  assert.throws(() => index.search('cat', 0), /k must be an integer >= 1, got 0/);
});

test('equal scores are ordered by docid; documents stream in from an async iterable', async () => {
  async function* docs(): AsyncGenerator<Bm25Doc> {
    for (const id of ['b', 'c', 'a']) yield { docid: id, text: 'same words here' };
    yield { docid: 'z', text: 'other text' };
  }
  const index = await buildBm25Index(docs());
  const hits = index.search('words', 10);
  assert.deepEqual(hits.map((h) => h.docid), ['a', 'b', 'c']);
  assert.equal(hits[0]?.score, hits[2]?.score);
  assert.deepEqual(index.search('words', 2).map((h) => h.docid), ['a', 'b']);
});

test('a docid added twice is rejected by name', () => {
  const builder = new Bm25Builder();
  builder.add('p7', 'x');
  assert.throws(() => builder.add('p7', 'y'), /docid 'p7' added twice/);
});

test('top-k by heap equals a full sort of every document on a random corpus with many ties', () => {
  const rng = new Rng(5);
  const vocab = Array.from({ length: 30 }, (_, i) => `w${i}`);
  const texts = Array.from({ length: 400 }, () =>
    Array.from({ length: 1 + rng.nextInt(12) }, () => vocab[Math.floor(vocab.length * rng.nextFloat() ** 2)]).join(' '));
  const builder = new Bm25Builder();
  texts.forEach((t, i) => builder.add(`doc${i}`, t));
  const index = builder.finish();
  const full = index.search('w0 w3 w17', 400);  // every matching document, via the same heap
  for (const k of [1, 10, 57]) {
    assert.deepEqual(index.search('w0 w3 w17', k), full.slice(0, k));
  }
  // the full list is sorted by score descending, then docid ascending
  for (let i = 1; i < full.length; i++) {
    const [a, b] = [full[i - 1], full[i]];
    assert.ok(a && b && (a.score > b.score || (a.score === b.score && a.docid < b.docid)), `order at ${i}`);
  }
  // and it holds exactly the documents containing a query term
  const expected = texts.flatMap((t, i) => (/\b(w0|w3|w17)\b/.test(t) ? [`doc${i}`] : []));
  assert.deepEqual(full.map((h) => h.docid).sort(), expected.sort());
});
