import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomizedSvd, symmetricEigen } from '../shared/dataset/docids/randomized_svd.js';
import type { CsrMatrix } from '../shared/dataset/docids/randomized_svd.js';
import { fitTfidfSvd } from '../shared/dataset/docids/tfidf_svd.js';
import { Rng } from '../shared/runtime/random.js';

/** A dense row-major (rows, cols) matrix in CSR form. */
function csr(dense: number[][]): CsrMatrix {
  const rowStart = [0];
  const colIndex: number[] = [];
  const values: number[] = [];
  for (const row of dense) {
    row.forEach((v, c) => {
      if (v !== 0) {
        colIndex.push(c);
        values.push(v);
      }
    });
    rowStart.push(colIndex.length);
  }
  return { rows: dense.length, cols: dense[0]?.length ?? 0, rowStart: Uint32Array.from(rowStart), colIndex: Uint32Array.from(colIndex), values: Float64Array.from(values) };
}
const near = (a: number | undefined, b: number, tol: number): void => assert.ok(a !== undefined && Math.abs(a - b) < tol, `${a} != ${b}`);

test('singular values of [[3, 0], [4, 5]] are √45 and √5 (AᵀA = [[25, 20], [20, 25]])', () => {
  const svd = randomizedSvd(csr([[3, 0], [4, 5]]), { rank: 2, seed: 1 });
  near(svd.singularValues[0], Math.sqrt(45), 1e-12);
  near(svd.singularValues[1], Math.sqrt(5), 1e-12);
  // top right singular vector (1, 1)/√2, sign fixed positive; A·v1 = σ1·u1 with u1 = (1, 3)/√10
  near(svd.right[0], Math.SQRT1_2, 1e-12);
  near(svd.right[2], Math.SQRT1_2, 1e-12);
  near(svd.left[0], 1 / Math.sqrt(10), 1e-12);
  near(svd.left[2], 3 / Math.sqrt(10), 1e-12);
});

test('a rank-1 matrix: σ1 = ‖(1, 2)‖·‖(1, 2, 0, 2)‖ = 3√5, the other requested values are 0', () => {
  const svd = randomizedSvd(csr([[1, 2, 0, 2], [2, 4, 0, 4], [0, 0, 0, 0]]), { rank: 3, seed: 9 });
  near(svd.singularValues[0], 3 * Math.sqrt(5), 1e-12);
  // rounding noise below √ε·σ1 is no direction: those triplets are exact zeros
  assert.deepEqual([...svd.singularValues].slice(1), [0, 0]);
  assert.deepEqual([...svd.right].filter((_, i) => i % 3 !== 0), new Array<number>(8).fill(0));
});

test('full-rank randomized SVD of a random sparse matrix is an exact decomposition', () => {
  const rng = new Rng(3);
  const dense = Array.from({ length: 40 }, () => Array.from({ length: 25 }, () => (rng.nextFloat() < 0.3 ? rng.nextNormal() : 0)));
  const a = csr(dense);
  const r = 25;
  const svd = randomizedSvd(a, { rank: r, seed: 4 });
  // Σ σ² = ‖A‖_F² only if all of A's energy was captured
  let fro = 0;
  for (const row of dense) for (const v of row) fro += v * v;
  near(svd.singularValues.reduce((s, x) => s + x * x, 0), fro, 1e-9 * fro);
  for (let i = 1; i < r; i++) assert.ok((svd.singularValues[i - 1] as number) >= (svd.singularValues[i] as number));
  // VᵀV = I and A = U·Σ·Vᵀ entry by entry
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let c = 0; c < 25; c++) s += (svd.right[c * r + i] as number) * (svd.right[c * r + j] as number);
      near(s, i === j ? 1 : 0, 1e-9);
    }
  }
  dense.forEach((row, i) => row.forEach((v, j) => {
    let s = 0;
    for (let k = 0; k < r; k++) s += (svd.left[i * r + k] as number) * (svd.singularValues[k] as number) * (svd.right[j * r + k] as number);
    near(s, v, 1e-9);
  }));
});

test('Jacobi eigen-decomposition of [[2, 1], [1, 2]]: eigenvalues 3 and 1', () => {
  const { values } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
  assert.deepEqual([...values].sort().map((v) => Math.round(v * 1e12) / 1e12), [1, 3]);
});

// 3 topics x 20 documents of 16 words: half drawn from the topic's words, half from shared filler
const topicWords = [
  'oven flour yeast bread dough bake cake sugar butter eggs salt garlic sauce recipe roast',
  'striker goal match penalty goalkeeper league coach team cup final season defender referee fans stadium',
  'telescope galaxy stars planet orbit moon comet astronomers sky light sun nebula universe gravity eclipse',
].map((s) => s.split(' '));
const filler = 'the a and of in with for on at to was is it this that from by as an new'.split(' ');
const corpusRng = new Rng(21);
const pick = (xs: string[]): string => xs[corpusRng.nextInt(xs.length)] as string;
const texts = topicWords.flatMap((words) => Array.from({ length: 20 }, () =>
  Array.from({ length: 16 }, () => pick(corpusRng.nextFloat() < 0.5 ? words : filler)).join(' ')));
const topicOf = (i: number): number => Math.floor(i / 20);
const cosine = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

test('TF-IDF + SVD: documents are nearer to their own topic than to the others', () => {
  const { embeddings } = fitTfidfSvd(texts, { dims: 4, seed: 1 });
  assert.equal(embeddings.length, 60);
  embeddings.forEach((e, i) => {
    assert.equal(e.length, 4);
    near(cosine(e, e), 1, 1e-5);
    const mean = (sameTopic: boolean): number => {
      const others = embeddings.filter((_, j) => j !== i && (topicOf(j) === topicOf(i)) === sameTopic);
      return others.reduce((s, o) => s + cosine(e, o), 0) / others.length;
    };
    assert.ok(mean(true) > mean(false) + 0.2, `document ${i}: same topic ${mean(true)}, other topics ${mean(false)}`);
    const nearest = embeddings.map((o, j) => [j === i ? -Infinity : cosine(e, o), j] as const).sort((x, y) => y[0] - x[0])[0];
    assert.equal(topicOf(nearest?.[1] as number), topicOf(i), `nearest neighbour of document ${i}`);
  });
});

test('TF-IDF + SVD is deterministic for a seed; embed() reproduces the fitted rows and places queries', () => {
  const a = fitTfidfSvd(texts, { dims: 4, seed: 7 });
  const b = fitTfidfSvd(texts, { dims: 4, seed: 7 });
  assert.deepEqual(b.embeddings, a.embeddings);
  assert.deepEqual(a.model.embed(texts), a.embeddings);
  const [query] = a.model.embed(['Which telescope sees the planet orbit?']);
  const best = a.embeddings.map((e, i) => [cosine(query as Float32Array, e), i] as const).sort((x, y) => y[0] - x[0])[0];
  assert.equal(topicOf(best?.[1] as number), 2);
  assert.deepEqual(a.model.embed(['zzz unknown']), [new Float32Array(4)]);  // no vocabulary word: zero vector
  const wide = fitTfidfSvd(texts.slice(0, 5), { dims: 40, seed: 1 });      // rank <= 5: dims 5.. are zeros
  assert.equal(wide.embeddings[0]?.length, 40);
  assert.deepEqual([...(wide.embeddings[0] as Float32Array).subarray(5)], new Array<number>(35).fill(0));
});
