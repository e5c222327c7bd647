/**
 * Document embeddings for semantic docids: a BERT-family sentence encoder through @xenova/transformers
 * when a local model folder is given (mean-pooled, unit length), else the offline TF-IDF + SVD of
 * tfidf_svd.ts. The returned `info` says which one produced the vectors; it goes into the manifest.
 */
import { checkLocalModel, loadLocalPipeline } from './local_model.js';
import { fitTfidfSvd, DEFAULT_EMBEDDING_DIMS } from './tfidf_svd.js';

/** Texts per encoder call: bounds the padded (B, T, D) activations. */
const ENCODER_BATCH = 32;

export interface EmbedderOptions {
  /** Local BERT-family ONNX folder; empty: TF-IDF + SVD. */
  modelDir: string;
  seed: number;
  /** TF-IDF + SVD dimensions. @default 128 */
  dims?: number;
  /** Called after each batch (encoder) or once (TF-IDF), with texts done so far. */
  onProgress?: (done: number) => void;
}

export type EmbedderInfo =
  | { name: 'tfidf-svd'; dims: number; vocabulary: number; seed: number }
  | { name: 'transformers'; model_dir: string; files: string[]; quantized: boolean; dims: number; pooling: 'mean' };

/** The texts to embed: how many, and a fresh pass over them in order (TF-IDF reads them twice). */
export interface EmbedderCorpus {
  readonly count: number;
  texts(): Iterable<string>;
}

export async function embedDocuments(corpus: EmbedderCorpus, options: EmbedderOptions): Promise<{ embeddings: Float32Array[]; info: EmbedderInfo }> {
  if (options.modelDir === '') {
    const dims = options.dims ?? DEFAULT_EMBEDDING_DIMS;
    const { model, embeddings } = fitTfidfSvd({ [Symbol.iterator]: () => corpus.texts()[Symbol.iterator]() }, { seed: options.seed, dims });
    options.onProgress?.(corpus.count);
    return { embeddings, info: { name: 'tfidf-svd', dims, vocabulary: model.vocabulary.size, seed: options.seed } };
  }
  const files = checkLocalModel(options.modelDir, 'feature-extraction', 'the semantic-docid embedder (--embedder-model)');
  const encode = await loadLocalPipeline(files, 'feature-extraction');
  const embeddings: Float32Array[] = [];
  const run = async (batch: string[]): Promise<void> => {
    const out = (await encode(batch, { pooling: 'mean', normalize: true })) as { data: Float32Array; dims: number[] }; // (B, D)
    const D = out.dims[1] ?? 0;
    for (let i = 0; i < batch.length; i++) embeddings.push(out.data.slice(i * D, (i + 1) * D));
    options.onProgress?.(embeddings.length);
  };
  let batch: string[] = [];
  for (const text of corpus.texts()) {
    batch.push(text);
    if (batch.length === ENCODER_BATCH) { await run(batch); batch = []; }
  }
  if (batch.length > 0) await run(batch);
  return { embeddings, info: { name: 'transformers', model_dir: files.dir, files: files.files, quantized: files.quantized, dims: embeddings[0]?.length ?? 0, pooling: 'mean' } };
}
