/**
 * The docid stage: naive (seeded random permutation), atomic (document index) or semantic (document
 * embeddings, then the DSI paper's recursive k-means). The returned info records which embedder made
 * semantic ids, and the k and c used.
 */
import { embedDocuments } from '../../pipeline/embedder.js';
import { semanticDocids } from '../../pipeline/semantic_ids.js';
import { assignAtomicDocids, assignNaiveDocids, type DocidScheme } from '../docids.js';
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

export async function assignDocids(texts: readonly string[], scheme: DocidScheme, o: AssignDocidsOptions): Promise<{ docids: string[]; info: { [key: string]: JsonValue } }> {
  if (scheme !== 'semantic') {
    const timer = o.stages.start('docids', 'documents', texts.length);
    const docids = scheme === 'naive' ? assignNaiveDocids(texts.length, o.seed) : assignAtomicDocids(texts.length);
    timer.end(texts.length);
    return { docids, info: { scheme, seed: o.seed } };
  }
  const embedTimer = o.stages.start('embed', 'documents', texts.length);
  const { embeddings, info: embedder } = await embedDocuments(texts, { modelDir: o.embedderModel, seed: o.seed, onProgress: (n) => embedTimer.tick(n) });
  embedTimer.end(texts.length);
  const clusterTimer = o.stages.start('cluster', 'documents', texts.length);
  const docids = semanticDocids(embeddings, { seed: o.seed, k: o.k, maxLeaf: o.maxLeaf });
  clusterTimer.end(texts.length);
  return { docids, info: { scheme, seed: o.seed, k: o.k, max_leaf: o.maxLeaf, embedder } };
}
