/**
 * Retrieval with a trained DSI model: queries -> ranked docids by constrained beam search, and the
 * evaluation of those rankings against the relevant docids (the same metrics as BM25's).
 */
import type { T5Config } from '../model/config.js';
import type { Weights } from '../model/t5.js';
import { beamSearch } from '../model/beam_search.js';
import type { OutputVocabulary } from '../model/grads.js';
import { DocidTrie } from '../model/docid_trie.js';
import type { Config } from '../runtime/config.js';
import type { PreparedDataset } from '../dataset/reader.js';
import { decoderOutput } from './training_data.js';
import type { T5Tokenizer } from '../dataset/tokenizer.js';
import { padBatch } from './batches.js';
import { evaluateRankings, writeTrecRun, type RetrievalMetrics, type ScoredDoc } from '../dataset/retrieval/metrics.js';

/** A model ready to answer queries: weights, and the docids its trie was built from (same order). */
export interface RetrievalModel {
  config: T5Config;
  weights: Weights;
  trie: DocidTrie;
  docids: readonly string[];
  /** The docid tokens the model was trained to score (restricted output layer); absent: the whole vocabulary. */
  output?: OutputVocabulary;
}

export interface RetrieveOptions {
  beamSize: number;
  maxInputTokens: number;
  /** Lower-case queries first (the dataset's texts were: manifest field lowercase). @default false */
  lowercase?: boolean;
  /** Queries decoded together. @default 8 */
  batchSize?: number;
  /** Called after each batch with the number of queries done. */
  onProgress?: (done: number, total: number) => void;
}

const DEFAULT_QUERY_BATCH = 8;

/** The retrieval model of `weights` on `data`: its docid trie, and the output rows training used. */
export function retrievalModelOf(cfg: Config, data: PreparedDataset, config: T5Config, weights: Weights): RetrievalModel {
  const output = decoderOutput(cfg, data);
  return { config, weights, trie: new DocidTrie(data.docidTokens()), docids: data.documents().map((d) => d.docid), ...(output ? { output } : {}) };
}

/** Ranked docids (best first, scores = sequence log-probabilities) for each query. */
export async function retrieve(model: RetrievalModel, tok: T5Tokenizer, queries: readonly string[], o: RetrieveOptions): Promise<ScoredDoc[][]> {
  const out: ScoredDoc[][] = [];
  const step = o.batchSize ?? DEFAULT_QUERY_BATCH;
  for (let i = 0; i < queries.length; i += step) {
    const chunk = queries.slice(i, i + step).map((q) => tok.encode(o.lowercase === true ? q.toLowerCase() : q, o.maxInputTokens));
    const batch = padBatch(chunk, chunk.map(() => new Int32Array(1)));
    const ranked = await beamSearch(model.config, model.weights, model.trie, batch.inputIds, batch.B, batch.S, o.beamSize, model.output);
    for (const r of ranked) out.push(r.map((d) => ({ docid: model.docids[d.doc] as string, score: d.score })));
    o.onProgress?.(Math.min(i + step, queries.length), queries.length);
  }
  return out;
}

export interface EvalQuery {
  qid: string;
  query: string;
  docids: readonly string[];
}

export interface EvalResult {
  metrics: RetrievalMetrics;
  rankings: Map<string, ScoredDoc[]>;
}

/** Hits@1, Hits@10, MRR@10 of the model on `queries`; optionally writes a TREC run file. */
export async function evaluateModel(
  model: RetrievalModel, tok: T5Tokenizer, queries: readonly EvalQuery[], o: RetrieveOptions & { trecRunFile?: string; runTag?: string },
): Promise<EvalResult> {
  const ranked = await retrieve(model, tok, queries.map((q) => q.query), o);
  const rankings = new Map<string, ScoredDoc[]>();
  const qrels = new Map<string, Set<string>>();
  queries.forEach((q, i) => {
    rankings.set(q.qid, ranked[i] ?? []);
    qrels.set(q.qid, new Set(q.docids));
  });
  const metrics = evaluateRankings(new Map([...rankings].map(([qid, docs]) => [qid, docs.map((d) => d.docid)])), qrels);
  if (o.trecRunFile) await writeTrecRun(o.trecRunFile, rankings, o.runTag ?? 'dsi');
  return { metrics, rankings };
}
