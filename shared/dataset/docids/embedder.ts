/**
 * Document embeddings for semantic docids: a BERT-family sentence encoder through @xenova/transformers
 * when a local model folder is given (mean-pooled, unit length), else the offline TF-IDF + SVD of
 * tfidf_svd.ts. The returned `info` says which one produced the vectors; it goes into the manifest.
 *
 * Every embedding goes to a float32 file on disk (embedding_file.ts), a batch at a time, so memory does
 * not grow with the corpus. TF-IDF + SVD fits its vocabulary, idf and projection on a seeded uniform
 * sample of `fitSample` documents (all of them when the corpus is no larger: the same model, and the
 * same embeddings, as fitting the whole corpus), then embeds every document in one more pass.
 */
import { mixSeed, Rng } from '../../runtime/random.js';
import { EmbeddingFileWriter, type EmbeddingFile } from './embedding_file.js';
import { checkLocalModel, loadLocalPipeline } from '../local_model.js';
import { fitTfidfSvdModel, DEFAULT_EMBEDDING_DIMS } from './tfidf_svd.js';

/** Texts per encoder call: bounds the padded (B, T, D) activations. */
const ENCODER_BATCH = 32;
/** Texts per TF-IDF projection: bounds the batch's sparse rows and embeddings. */
const TFIDF_BATCH = 1024;
/** 50k passages fit a vocabulary of ~80k words and an SVD of a few hundred MB; see README. */
export const DEFAULT_FIT_SAMPLE = 50_000;
/** Mixed into the seed for the fitting sample, so it does not share numbers with the SVD sketch. */
const FIT_SAMPLE_STREAM = 0x7f1d;

export interface EmbedderOptions {
  /** Local BERT-family ONNX folder; empty: TF-IDF + SVD. */
  modelDir: string;
  seed: number;
  /** The embeddings file to write (created, replaced). */
  file: string;
  /** TF-IDF + SVD dimensions. @default 128 */
  dims?: number;
  /** TF-IDF + SVD: documents sampled to fit the vocabulary, idf and SVD. @default 50_000 */
  fitSample?: number;
  /** Called after each batch with texts embedded so far. */
  onProgress?: (done: number) => void;
}

export type EmbedderInfo =
  | { name: 'tfidf-svd'; dims: number; vocabulary: number; seed: number; fit_documents: number }
  | { name: 'transformers'; model_dir: string; files: string[]; quantized: boolean; dims: number; pooling: 'mean' };

/** The texts to embed: how many, and a fresh pass over them in order (TF-IDF reads them three times). */
export interface EmbedderCorpus {
  readonly count: number;
  texts(): Iterable<string>;
}

export async function embedDocuments(corpus: EmbedderCorpus, options: EmbedderOptions): Promise<{ embeddings: EmbeddingFile; info: EmbedderInfo }> {
  return options.modelDir === '' ? embedTfidf(corpus, options) : embedTransformers(corpus, options);
}

function embedTfidf(corpus: EmbedderCorpus, options: EmbedderOptions): { embeddings: EmbeddingFile; info: EmbedderInfo } {
  const dims = options.dims ?? DEFAULT_EMBEDDING_DIMS;
  const fitSample = options.fitSample ?? DEFAULT_FIT_SAMPLE;
  if (!Number.isInteger(fitSample) || fitSample < 1) throw new RangeError(`embedDocuments: option 'fitSample' must be an integer >= 1, got ${fitSample}`);
  const picked = fitSampleIndices(corpus.count, fitSample, options.seed);
  const sample = { [Symbol.iterator]: () => pickTexts(corpus.texts(), picked) };
  const model = fitTfidfSvdModel(sample, { seed: options.seed, dims });
  const out = new EmbeddingFileWriter(options.file, dims);
  try {
    let batch: string[] = [];
    const run = (): void => {
      for (const e of model.embed(batch)) out.append(e);
      batch = [];
      options.onProgress?.(out.count);
    };
    for (const text of corpus.texts()) {
      batch.push(text);
      if (batch.length === TFIDF_BATCH) run();
    }
    if (batch.length > 0) run();
  } catch (err) {
    out.abort();
    throw err;
  }
  return { embeddings: out.finish(), info: { name: 'tfidf-svd', dims, vocabulary: model.vocabulary.size, seed: options.seed, fit_documents: picked.length } };
}

/** The documents TF-IDF + SVD is fitted on, under the caller's seed. */
export function fitSampleIndices(n: number, size: number, seed: number): Uint32Array {
  return sampleIndices(n, size, mixSeed(seed, FIT_SAMPLE_STREAM));
}

/** `size` of 0..n-1 (all when n <= size) by seeded reservoir sampling, ascending. */
export function sampleIndices(n: number, size: number, seed: number): Uint32Array {
  const picked = new Uint32Array(Math.min(n, size));
  for (let i = 0; i < picked.length; i++) picked[i] = i;
  if (n <= size) return picked;
  const rng = new Rng(seed);
  for (let i = size; i < n; i++) {
    const r = rng.nextInt(i + 1);
    if (r < size) picked[r] = i;
  }
  return picked.sort();
}

/** The texts at the ascending indices `picked`, from one pass over all. */
function* pickTexts(texts: Iterable<string>, picked: Uint32Array): Generator<string> {
  let i = 0;
  let p = 0;
  for (const text of texts) {
    if (p === picked.length) return;
    if (picked[p] === i) { yield text; p++; }
    i++;
  }
}

async function embedTransformers(corpus: EmbedderCorpus, options: EmbedderOptions): Promise<{ embeddings: EmbeddingFile; info: EmbedderInfo }> {
  const files = checkLocalModel(options.modelDir, 'feature-extraction', 'the semantic-docid embedder (--embedder-model)');
  const encode = await loadLocalPipeline(files, 'feature-extraction');
  let out: EmbeddingFileWriter | undefined;
  try {
    const run = async (batch: string[]): Promise<void> => {
      const res = (await encode(batch, { pooling: 'mean', normalize: true })) as { data: Float32Array; dims: number[] }; // (B, D)
      const D = res.dims[1] ?? 0;
      out ??= new EmbeddingFileWriter(options.file, D);
      for (let i = 0; i < batch.length; i++) out.append(res.data.subarray(i * D, (i + 1) * D));
      options.onProgress?.(out.count);
    };
    let batch: string[] = [];
    for (const text of corpus.texts()) {
      batch.push(text);
      if (batch.length === ENCODER_BATCH) { await run(batch); batch = []; }
    }
    if (batch.length > 0) await run(batch);
  } catch (err) {
    out?.abort();
    throw err;
  }
  if (out === undefined) throw new RangeError('embedDocuments: no documents to embed');
  const embeddings = out.finish();
  return { embeddings, info: { name: 'transformers', model_dir: files.dir, files: files.files, quantized: files.quantized, dims: embeddings.dims, pooling: 'mean' } };
}
