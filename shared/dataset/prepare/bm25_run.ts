/**
 * The BM25 baseline of a prepared folder: every held-out query searched in a BM25 index of the documents
 * (shared/dataset/retrieval/bm25.ts, Anserini's k1 = 0.9, b = 0.4 by default), its top k saved as a TREC run
 * (bm25.eval.trec, over docids) and scored by the same metric code as the model (metrics.ts).
 * `coordinator eval --bm25` re-reads the saved run and scores it again.
 *
 * Memory: the texts stream from the store into the builder, documents are named by the docid table, so
 * what stays is the index itself: 6 bytes per posting (one per distinct term of a document, ~45 for an
 * MS MARCO passage: ~270 bytes) plus ~28 bytes per document (offsets, lengths, length norms, the search
 * accumulators); while finish() inverts it, the forward lists double the postings (~540 bytes).
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InputError } from '../../runtime/errors.js';
import { Bm25Builder, type Bm25Index } from '../retrieval/bm25.js';
import { evaluateRankings, type RetrievalMetrics } from '../retrieval/metrics.js';
import type { DocidTable } from '../docids/docids.js';
import { BM25_RUN_FILE, type Query } from '../format.js';
import type { TextCorpus } from './assign_docids.js';
import type { PreparedDataset } from '../reader.js';
import type { Stages, StageTimer } from './progress.js';

export const BM25_RUN_TAG = 'bm25';
/** Ranks kept per query for the metrics (MRR@10 and Hits@10 look no further). */
const METRIC_DEPTH = 10;
/** Documents between progress reports while indexing. */
const TICK_EVERY = 4096;

export interface Bm25RunOptions {
  topK: number;
  k1: number;
  b: number;
}

/** Builds the index now; `lines()` searches query by query while the writer streams the run to disk. */
export class Bm25Run {
  private readonly top = new Map<string, string[]>();
  private searched = 0;

  private constructor(private readonly index: Bm25Index, private readonly queries: readonly Query[], readonly options: Bm25RunOptions, private readonly stages: Stages) {}

  static build(corpus: TextCorpus, docids: DocidTable, evalQueries: readonly Query[], options: Bm25RunOptions, stages: Stages): Bm25Run {
    for (const q of evalQueries) if (/\s/.test(q.qid)) throw new RangeError(`BM25 run: qid '${q.qid}' has whitespace, which a TREC run cannot hold`);
    const timer = stages.start('bm25 index', 'documents', corpus.count);
    const index = indexTexts(corpus, docids, options, timer);
    timer.end(corpus.count);
    return new Bm25Run(index, evalQueries, options, stages);
  }

  /** TREC lines `qid Q0 docid rank score bm25`, one chunk per query. */
  *lines(): Generator<string> {
    const timer = this.stages.start('bm25 search', 'queries', this.queries.length);
    for (const q of this.queries) {
      const hits = this.index.search(q.query, this.options.topK);
      this.top.set(q.qid, hits.slice(0, METRIC_DEPTH).map((h) => h.docid));
      yield hits.map((h, i) => `${q.qid} Q0 ${h.docid} ${i + 1} ${h.score} ${BM25_RUN_TAG}\n`).join('');
      if (++this.searched % 256 === 0) timer.tick(this.searched);
    }
    timer.end(this.searched);
  }

  /** Metrics of the searched queries (after lines() was read to the end). */
  metrics(): RetrievalMetrics {
    return evaluateRankings(this.top, qrelsOf(this.queries));
  }
}

/** The index of the corpus's texts; the builder (and its forward lists) is garbage once this returns. */
function indexTexts(corpus: TextCorpus, docids: DocidTable, options: Bm25RunOptions, timer: StageTimer): Bm25Index {
  const builder = new Bm25Builder({ k1: options.k1, b: options.b });
  let n = 0;
  for (const text of corpus.texts()) {
    builder.addText(text);
    if (++n % TICK_EVERY === 0) timer.tick(n);
  }
  return builder.finish((d) => docids.get(d));
}

function qrelsOf(queries: readonly Query[]): Map<string, Set<string>> {
  return new Map(queries.map((q) => [q.qid, new Set(q.docids)]));
}

/** Reads a TREC run: qid -> docids by rank. Errors name file:line. */
export function readTrecRun(file: string): Map<string, string[]> {
  const ranked = new Map<string, Array<{ rank: number; docid: string }>>();
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const cols = text.trim().split(/\s+/);
    const rank = Number(cols[3]);
    if (cols.length !== 6 || !Number.isInteger(rank) || rank < 1) throw new InputError(file, i + 1, undefined, 'expected "qid Q0 docid rank score tag" with an integer rank >= 1');
    const list = ranked.get(cols[0] as string) ?? [];
    list.push({ rank, docid: cols[2] as string });
    ranked.set(cols[0] as string, list);
  });
  return new Map([...ranked].map(([qid, list]) => [qid, list.sort((a, b) => a.rank - b.rank).map((x) => x.docid)]));
}

/** Scores the folder's saved BM25 run on its held-out queries; checks the run's sha256 against the manifest first. */
export function evaluateSavedBm25(data: PreparedDataset): RetrievalMetrics & { run_file: string; top_k: number | null; longest_ranking: number } {
  const file = join(data.dir, BM25_RUN_FILE);
  const entry = data.manifest.files[BM25_RUN_FILE];
  if (entry === undefined) {
    throw new InputError(join(data.dir, 'manifest.json'), undefined, `files.${BM25_RUN_FILE}`,
      'this folder has no BM25 run: prepare it with `coordinator prepare` and --bm25-top-k > 0');
  }
  const bytes = readFileSync(file);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== entry.sha256) throw new InputError(file, undefined, undefined, `sha256 ${sha} differs from the manifest's ${entry.sha256}: the file changed after prepare`);
  const run = readTrecRun(file);
  let longest = 0;
  for (const ranking of run.values()) longest = Math.max(longest, ranking.length);
  // k as prepared; a query's ranking is shorter when fewer documents share a term with it
  const bm25 = data.manifest.pipeline?.['bm25'];
  const k = typeof bm25 === 'object' && bm25 !== null && !Array.isArray(bm25) && typeof bm25['top_k'] === 'number' ? bm25['top_k'] : null;
  return { ...evaluateRankings(run, qrelsOf(data.queries('eval'))), run_file: file, top_k: k, longest_ranking: longest };
}
