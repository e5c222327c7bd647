/**
 * The docid stage: naive (seeded random permutation), atomic (document index) or semantic (document
 * embeddings, then the DSI paper's recursive k-means). The returned info records which embedder made
 * semantic ids, and the k and c used.
 *
 * Memory: naive and atomic docids are computed from a permutation (4 bytes per document) or the index.
 * Semantic ids stay in memory while they are made: TF-IDF reads the texts twice from the store, but its
 * sparse matrix (12 bytes per distinct term of a document, ~40 terms for an MS MARCO passage), the
 * 128-dim embeddings (512 bytes + ~100 bytes of typed-array object) and ml-kmeans's number[][] copy of a
 * node (~1.1 KB per document at the top node) are all resident: ~2 KB per document, ~18 GB for 8.8M.
 */
import { embedDocuments } from '../../pipeline/embedder.js';
import { semanticDocids } from '../../pipeline/semantic_ids.js';
import { atomicDocidTable, naiveDocidTable, packedDocidTable, type DocidScheme, type DocidTable } from '../docids.js';
import type { JsonValue } from '../format.js';
import type { Stages } from './progress.js';

export interface AssignDocidsOptions {
  seed: number;
  /** semantic: local BERT-family folder, empty for TF-IDF + SVD. */
  embedderModel: string;
  /** semantic: clusters per level (k) and most documents per leaf (c). */
  k: number;
  maxLeaf: number;
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
  const { embeddings, info: embedder } = await embedDocuments(corpus, { modelDir: o.embedderModel, seed: o.seed, onProgress: (done) => embedTimer.tick(done) });
  embedTimer.end(n);
  const clusterTimer = o.stages.start('cluster', 'documents', n);
  const docids = packedDocidTable(semanticDocids(embeddings, { seed: o.seed, k: o.k, maxLeaf: o.maxLeaf }));
  clusterTimer.end(n);
  return { docids, info: { scheme, seed: o.seed, k: o.k, max_leaf: o.maxLeaf, embedder } };
}
