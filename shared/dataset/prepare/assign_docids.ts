/**
 * The docid stage: naive (seeded random permutation), atomic (document index) or semantic (document
 * embeddings, then the DSI paper's recursive k-means). The returned info records which embedder made
 * semantic ids, and the k and c used.
 *
 * Memory: naive and atomic docids are computed from a permutation (4 bytes per document) or the index.
 * Semantic ids: the embedder fits on a bounded sample and writes every embedding to a float32 file in
 * the work folder (embedder.ts, embedding_file.ts); the recursive k-means reads that file by index
 * lists and samples nodes larger than `kmeansSample` (semantic_ids.ts). What grows with the corpus in
 * memory is the index lists (4 bytes per document, ~9 while a node is split) and the ids themselves
 * (~40 bytes per document as strings, then packed); the file is removed when the ids are made.
 */
import path from 'node:path';
import { embedDocuments } from '../docids/embedder.js';
import { semanticDocids } from '../docids/semantic_ids.js';
import { atomicDocidTable, naiveDocidTable, packedDocidTable, type DocidScheme, type DocidTable } from '../docids/docids.js';
import type { JsonValue } from '../format.js';
import type { Stages } from './progress.js';

export interface AssignDocidsOptions {
  seed: number;
  /** semantic: local BERT-family folder, empty for TF-IDF + SVD. */
  embedderModel: string;
  /** semantic: clusters per level (k) and most documents per leaf (c). */
  k: number;
  maxLeaf: number;
  /** semantic: documents sampled to fit TF-IDF + SVD. */
  fitSample: number;
  /** semantic: nodes with more documents fit k-means on a sample of this many. */
  kmeansSample: number;
  /** semantic: folder for the embeddings file (removed again). */
  workDir: string;
  stages: Stages;
}

/** The documents' texts: how many, and a fresh pass over them in order (read from disk each time). */
export interface TextCorpus {
  readonly count: number;
  texts(): Iterable<string>;
}

export async function assignDocids(corpus: TextCorpus, scheme: DocidScheme, o: AssignDocidsOptions): Promise<{ docids: DocidTable; info: { [key: string]: JsonValue } }> {
  const n = corpus.count;
  if (scheme !== 'semantic') {
    const timer = o.stages.start('docids', 'documents', n);
    const docids = scheme === 'naive' ? naiveDocidTable(n, o.seed) : atomicDocidTable(n);
    timer.end(n);
    return { docids, info: { scheme, seed: o.seed } };
  }
  const embedTimer = o.stages.start('embed', 'documents', n);
  const { embeddings, info: embedder } = await embedDocuments(corpus, {
    modelDir: o.embedderModel, seed: o.seed, fitSample: o.fitSample, file: path.join(o.workDir, 'embeddings.f32'), onProgress: (done) => embedTimer.tick(done),
  });
  embedTimer.end(n);
  try {
    const clusterTimer = o.stages.start('cluster', 'documents', n);
    const docids = packedDocidTable(semanticDocids(embeddings, { seed: o.seed, k: o.k, maxLeaf: o.maxLeaf, sampleSize: o.kmeansSample }));
    clusterTimer.end(n);
    return { docids, info: { scheme, seed: o.seed, k: o.k, max_leaf: o.maxLeaf, kmeans_sample: o.kmeansSample, embedder } };
  } finally {
    embeddings.remove();
  }
}
