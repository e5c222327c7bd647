/**
 * Retrieval metrics and TREC run files, shared by the DSI model's evaluation and the BM25 baseline so
 * that both are scored by exactly the same code.
 *
 * - Hits@k: the share of queries with at least one relevant docid among the first k of its ranking.
 * - MRR@10: the mean over queries of 1/rank of the first relevant docid within the first 10 (0 if none),
 *   as in the MS MARCO passage leaderboard.
 *
 * The query set is the qrels: a query with judgements but no ranking scores 0 on every metric, a ranking
 * for a query without judgements is ignored (trec_eval does the same). A query whose qrels set is
 * empty cannot be answered and is rejected.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One retrieved document and its score (higher is better). */
export interface ScoredDoc {
  docid: string;
  score: number;
}

/** Field names are snake_case because they are written as-is into JSON reports. */
export interface RetrievalMetrics {
  hits_at_1: number;
  hits_at_10: number;
  mrr_at_10: number;
  /** Queries evaluated: every query of the qrels. */
  queries: number;
}

/** MS MARCO's official cut-off for MRR. */
const MRR_CUTOFF = 10;

/** Hits@1, Hits@10 and MRR@10 of `rankings` (best first) against `qrels` (qid -> relevant docids). */
export function evaluateRankings(
  rankings: ReadonlyMap<string, readonly string[]>,
  qrels: ReadonlyMap<string, ReadonlySet<string>>,
): RetrievalMetrics {
  let hits1 = 0;
  let hits10 = 0;
  let reciprocalRanks = 0;
  for (const [qid, relevant] of qrels) {
    if (relevant.size === 0) throw new RangeError(`evaluateRankings: query '${qid}' has an empty set of relevant docids`);
    const ranking = rankings.get(qid) ?? [];
    const first = firstRelevantRank(ranking, relevant, MRR_CUTOFF);  // 1-based, or 0 when none in the top 10
    if (first === 1) hits1++;
    if (first > 0) {
      hits10++;
      reciprocalRanks += 1 / first;
    }
  }
  const queries = qrels.size;
  if (queries === 0) return { hits_at_1: 0, hits_at_10: 0, mrr_at_10: 0, queries: 0 };
  return { hits_at_1: hits1 / queries, hits_at_10: hits10 / queries, mrr_at_10: reciprocalRanks / queries, queries };
}

/** 1-based rank of the first relevant docid among the first `cutoff`, or 0 when there is none. */
function firstRelevantRank(ranking: readonly string[], relevant: ReadonlySet<string>, cutoff: number): number {
  const n = Math.min(cutoff, ranking.length);
  for (let i = 0; i < n; i++) {
    if (relevant.has(ranking[i] as string)) return i + 1;  // i < ranking.length, so the element exists
  }
  return 0;
}

/** Docids only, best first, from scored rankings (as `writeTrecRun` orders them). */
export function docidsOf(rankings: ReadonlyMap<string, readonly ScoredDoc[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [qid, docs] of rankings) out.set(qid, sortRun(docs).map((d) => d.docid));
  return out;
}

/**
 * Scores descending; ties by docid ascending, the order BM25 search returns. (trec_eval ignores the rank
 * column and re-sorts ties by docid descending, so ties can score differently there: avoid exact ties.)
 */
function sortRun(docs: readonly ScoredDoc[]): ScoredDoc[] {
  return [...docs].sort((x, y) => y.score - x.score || (x.docid < y.docid ? -1 : x.docid > y.docid ? 1 : 0));
}

const NO_WHITESPACE = /^\S+$/;

/**
 * Writes `rankings` as a standard TREC run, one line per retrieved document:
 * `qid Q0 docid rank score runTag`, rank starting at 1 in descending score order. Queries keep the
 * map's order. Scores are written in full precision (shortest round-trip form) so that re-reading
 * the run gives the same order; trec_eval reads that form, exponents included.
 * Everything is checked before the file is created, so a bad input leaves no partial run behind.
 */
export async function writeTrecRun(
  file: string,
  rankings: ReadonlyMap<string, readonly ScoredDoc[]>,
  runTag: string,
): Promise<void> {
  checkRun(rankings, runTag);
  // one chunk per query, pulled by the stream: a run of millions of lines never sits in memory
  function* chunks(): Generator<string> {
    for (const [qid, docs] of rankings) {
      yield sortRun(docs).map((d, i) => `${qid} Q0 ${d.docid} ${i + 1} ${d.score} ${runTag}\n`).join('');
    }
  }
  try {
    await pipeline(Readable.from(chunks()), createWriteStream(file, { encoding: 'utf8' }));
  } catch (err) {
    throw new Error(`writeTrecRun: could not write ${file}`, { cause: err });
  }
}

/** Every field of a run line must be one whitespace-free word and every score finite. */
function checkRun(rankings: ReadonlyMap<string, readonly ScoredDoc[]>, runTag: string): void {
  if (!NO_WHITESPACE.test(runTag)) throw new RangeError(`writeTrecRun: run tag '${runTag}' must be one word without whitespace`);
  for (const [qid, docs] of rankings) {
    if (!NO_WHITESPACE.test(qid)) throw new RangeError(`writeTrecRun: qid '${qid}' must be one word without whitespace`);
    for (const d of docs) {
      if (!NO_WHITESPACE.test(d.docid)) {
        throw new RangeError(`writeTrecRun: query '${qid}': docid '${d.docid}' must be one word without whitespace`);
      }
      if (!Number.isFinite(d.score)) throw new RangeError(`writeTrecRun: query '${qid}' docid '${d.docid}': score ${d.score} is not finite`);
    }
  }
}
