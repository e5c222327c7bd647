/**
 * An offline document embedder that needs no downloaded weights: TF-IDF followed by truncated SVD
 * (latent semantic analysis), the embedder for semantic docids when no sentence encoder is at hand.
 *
 *   1) words: lower case, split on non-alphanumerics (words.ts)
 *   2) vocabulary: words in at least `minDf` documents, the `maxVocab` most frequent by document count
 *   3) TF-IDF row per document: (1 + ln tf) · idf,  idf = ln((1 + N) / (1 + df)) + 1 (scikit-learn's
 *      sublinear_tf and smooth_idf), then the row scaled to unit L2 norm
 *   4) truncated SVD of the (N, V) TF-IDF matrix by randomized subspace iteration (randomized_svd.ts)
 *   5) embedding of a text: its TF-IDF row · V (V, dims), scaled to unit L2 norm, so that cosine
 *      similarity is a dot product. Fitted documents and new texts go through the same computation.
 * A text with no vocabulary word embeds to the zero vector (there is no direction to normalise).
 */
import { randomizedSvd, DEFAULT_OVERSAMPLE, DEFAULT_POWER_ITERATIONS } from './randomized_svd.js';
import type { CsrMatrix } from './randomized_svd.js';
import { growF64, growU32 } from '../../runtime/growable.js';
import { lowercaseWords } from '../words.js';

export interface TfidfSvdOptions {
  /** Seed of the SVD's random sketch: same texts and seed, same embeddings. */
  seed: number;
  /** Embedding dimensions (dimensions beyond the matrix's rank are zeros). @default 128 */
  dims?: number;
  /** Words in fewer documents are dropped. @default 1 */
  minDf?: number;
  /**
   * Most frequent words kept (by document count, ties by word). Bounds the (V, dims) projection:
   * 100k words × 128 dims is 100 MB of float64. @default 100_000
   */
  maxVocab?: number;
  /** See randomized_svd.ts. @default 10 */
  oversample?: number;
  /** See randomized_svd.ts. @default 4 */
  powerIterations?: number;
}

export const DEFAULT_EMBEDDING_DIMS = 128;
export const DEFAULT_MIN_DF = 1;
export const DEFAULT_MAX_VOCAB = 100_000;

/** A fitted TF-IDF + SVD: embeds any text into the fitted space. */
export class TfidfSvdModel {
  constructor(
    /** word -> column of the TF-IDF matrix */
    readonly vocabulary: ReadonlyMap<string, number>,
    /** (V) idf of each column */
    readonly idf: Float64Array,
    /** (V, dims) row-major projection: the right singular vectors */
    readonly projection: Float64Array,
    readonly dims: number,
    /** (dims) descending */
    readonly singularValues: Float64Array,
  ) {}

  /** Unit-length (dims) embeddings of `texts`, one per text, in order. */
  embed(texts: Iterable<string>): Float32Array[] {
    return this.project(tfidfMatrix(texts, this.vocabulary, this.idf));
  }

  /** Unit-length rows of X (N, V) · projection (V, dims). */
  project(x: CsrMatrix): Float32Array[] {
    const out: Float32Array[] = [];
    for (let r = 0; r < x.rows; r++) {
      const e = new Float64Array(this.dims);                    // (dims)
      for (let p = x.rowStart[r] as number, end = x.rowStart[r + 1] as number; p < end; p++) {
        const v = x.values[p] as number;
        const base = (x.colIndex[p] as number) * this.dims;
        for (let k = 0; k < this.dims; k++) e[k] = (e[k] as number) + v * (this.projection[base + k] as number);
      }
      out.push(unitFloat32(e));
    }
    return out;
  }
}

/**
 * Fits TF-IDF + SVD on `texts` and returns the model with the texts' own embeddings. `texts` is
 * iterated twice (document counts, then the matrix), so a corpus on disk is read, not held.
 */
export function fitTfidfSvd(texts: Iterable<string>, options: TfidfSvdOptions): { model: TfidfSvdModel; embeddings: Float32Array[] } {
  const { model, x } = fitModel(texts, options);
  // 5) the fitted rows as X·V, exactly as embed() computes a new text (U·Σ is the same up to the
  //    sketch's approximation error, but documents and queries must share one computation)
  return { model, embeddings: model.project(x) };
}

/**
 * Fits TF-IDF + SVD on `texts` (iterated twice) and returns only the model: for a sample of a corpus
 * whose every document is then embedded with model.embed(), a batch at a time. Row by row the same
 * numbers as fitTfidfSvd's embeddings when the sample is the whole corpus.
 */
export function fitTfidfSvdModel(texts: Iterable<string>, options: TfidfSvdOptions): TfidfSvdModel {
  return fitModel(texts, options).model;
}

function fitModel(texts: Iterable<string>, options: TfidfSvdOptions): { model: TfidfSvdModel; x: CsrMatrix } {
  const dims = options.dims ?? DEFAULT_EMBEDDING_DIMS;
  const minDf = options.minDf ?? DEFAULT_MIN_DF;
  const maxVocab = options.maxVocab ?? DEFAULT_MAX_VOCAB;
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`fitTfidfSvd: option 'dims' must be an integer >= 1, got ${dims}`);
  if (!Number.isInteger(minDf) || minDf < 1) throw new RangeError(`fitTfidfSvd: option 'minDf' must be an integer >= 1, got ${minDf}`);
  if (!Number.isInteger(maxVocab) || maxVocab < 1) throw new RangeError(`fitTfidfSvd: option 'maxVocab' must be an integer >= 1, got ${maxVocab}`);

  // 2) vocabulary and idf
  const df = new Map<string, number>();
  let N = 0;
  for (const text of texts) {
    for (const w of new Set(lowercaseWords(text))) df.set(w, (df.get(w) ?? 0) + 1);
    N++;
  }
  if (N === 0) throw new RangeError('fitTfidfSvd: no texts to fit');
  const words = [...df.entries()]
    .filter(([, n]) => n >= minDf)
    .sort(([wa, na], [wb, nb]) => nb - na || (wa < wb ? -1 : wa > wb ? 1 : 0))
    .slice(0, maxVocab);
  if (words.length === 0) throw new RangeError(`fitTfidfSvd: no word occurs in ${minDf} or more of the ${N} texts`);
  const vocabulary = new Map(words.map(([w], i) => [w, i]));
  const idf = Float64Array.from(words, ([, n]) => Math.log((1 + N) / (1 + n)) + 1);

  // 3) + 4)
  const x = tfidfMatrix(texts, vocabulary, idf);                 // (N, V)
  const svd = randomizedSvd(x, {
    rank: dims,
    seed: options.seed,
    oversample: options.oversample ?? DEFAULT_OVERSAMPLE,
    powerIterations: options.powerIterations ?? DEFAULT_POWER_ITERATIONS,
  });
  return { model: new TfidfSvdModel(vocabulary, idf, svd.right, dims, svd.singularValues), x };
}

/** Unit-L2-norm TF-IDF rows (N, V) of `texts`; words outside the vocabulary are ignored. 12 bytes per non-zero. */
export function tfidfMatrix(texts: Iterable<string>, vocabulary: ReadonlyMap<string, number>, idf: Float64Array): CsrMatrix {
  const rowStart = growU32();
  const colIndex = growU32();
  const values = growF64();
  rowStart.push(0);
  for (const text of texts) {
    const tf = new Map<number, number>();
    for (const w of lowercaseWords(text)) {
      const c = vocabulary.get(w);
      if (c !== undefined) tf.set(c, (tf.get(c) ?? 0) + 1);
    }
    const cols = [...tf.keys()].sort((a, b) => a - b);
    const row = cols.map((c) => (1 + Math.log(tf.get(c) as number)) * (idf[c] as number));  // c came from tf's keys
    let sq = 0;
    for (const v of row) sq += v * v;
    const norm = Math.sqrt(sq);                              // > 0 whenever the row has a word
    for (let i = 0; i < cols.length; i++) {
      colIndex.push(cols[i] as number);
      values.push((row[i] as number) / norm);
    }
    rowStart.push(colIndex.length);
  }
  return { rows: rowStart.length - 1, cols: vocabulary.size, rowStart: rowStart.trimmed(), colIndex: colIndex.trimmed(), values: values.trimmed() };
}

/** x / ‖x‖ as float32; the zero vector stays zero. */
function unitFloat32(x: Float64Array): Float32Array {
  let s = 0;
  for (const xi of x) s += xi * xi;
  const norm = Math.sqrt(s);
  return Float32Array.from(x, (xi) => (norm === 0 ? 0 : xi / norm));
}
