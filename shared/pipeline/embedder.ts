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

export async function embedDocuments(texts: readonly string[], options: EmbedderOptions): Promise<{ embeddings: Float32Array[]; info: EmbedderInfo }> {
  if (options.modelDir === '') {
    const dims = options.dims ?? DEFAULT_EMBEDDING_DIMS;
    const { model, embeddings } = fitTfidfSvd(texts, { seed: options.seed, dims });
    options.onProgress?.(texts.length);
    return { embeddings, info: { name: 'tfidf-svd', dims, vocabulary: model.vocabulary.size, seed: options.seed } };
  }
  const files = checkLocalModel(options.modelDir, 'feature-extraction', 'the semantic-docid embedder (--embedder-model)');
  const encode = await loadLocalPipeline(files, 'feature-extraction');
  const embeddings: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += ENCODER_BATCH) {
    const batch = texts.slice(start, start + ENCODER_BATCH);
    const out = (await encode(batch, { pooling: 'mean', normalize: true })) as { data: Float32Array; dims: number[] }; // (B, D)
    const D = out.dims[1] ?? 0;
    for (let i = 0; i < batch.length; i++) embeddings.push(out.data.slice(i * D, (i + 1) * D));
    options.onProgress?.(embeddings.length);
  }
  return { embeddings, info: { name: 'transformers', model_dir: files.dir, files: files.files, quantized: files.quantized, dims: embeddings[0]?.length ?? 0, pooling: 'mean' } };
}
