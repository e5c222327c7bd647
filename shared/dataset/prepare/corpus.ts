/**
 * The corpus stage: reads a source's records once, in order, and keeps
 * - one document per distinct passage text (trimmed; first appearance decides the order), with every
 *   source id that carried that text;
 * - the queries, each with the documents of its relevant source ids.
 * Everything not kept is counted: duplicate passages (folded into their document), source ids seen
 * again with another text (the first text keeps the id), relevant ids the collection lacks, queries
 * left with no relevant document, duplicate qids (bad input: stop, or skip with --skip-bad; a v1.1
 * record's passages come before its query, so those of a skipped duplicate stay, folded into their documents).
 * Documents and source ids go to a DocumentStore on disk (document_store.ts: tens of bytes resident per
 * document); the queries stay in memory (about 100-200 bytes each: 10^6 queries, ~200 MB).
 */
import { InputError } from '../../runtime/errors.js';
import type { StringHash } from '../store/hash_index.js';
import { DocumentStore } from '../store/document_store.js';
import type { BadInputPolicy } from '../sources/lines.js';
import type { Source } from '../sources/source.js';
import type { StageTimer, Stages } from './progress.js';

/** Records between progress reports: keeps the clock out of the inner loop. */
const TICK_EVERY = 4096;

export interface CorpusQuery {
  qid: string;
  query: string;
  /** Indexes of relevant documents, in the order their source ids were listed. */
  docs: number[];
}

export interface CorpusCounts {
  records_read: number;
  passages_read: number;
  duplicate_passages: number;
  conflicting_source_ids: number;
  documents: number;
  queries_read: number;
  queries_without_relevant: number;
  relevant_ids_not_in_collection: number;
  queries: number;
}

export interface Corpus {
  /** The documents, on disk in the work folder; the caller closes it. */
  docs: DocumentStore;
  queries: CorpusQuery[];
  counts: CorpusCounts;
}

/** Reads `source` into a DocumentStore in `workDir`; `hash` is replaceable for the collision tests. */
export async function collectCorpus(source: Source, bad: BadInputPolicy, stages: Stages, workDir: string, hash?: StringHash): Promise<Corpus> {
  const timer = stages.start('read', 'records');
  const docs = new DocumentStore(workDir, hash);
  try {
    return await collect(source, bad, docs, timer);
  } catch (err) {
    docs.close();
    throw err;
  }
}

async function collect(source: Source, bad: BadInputPolicy, store: DocumentStore, timer: StageTimer): Promise<Corpus> {
  const raw: Array<{ qid: string; query: string; relevant: string[] }> = [];
  const qids = new Set<string>();
  const counts: CorpusCounts = {
    records_read: 0, passages_read: 0, duplicate_passages: 0, conflicting_source_ids: 0, documents: 0,
    queries_read: 0, queries_without_relevant: 0, relevant_ids_not_in_collection: 0, queries: 0,
  };
  let n = 0;
  for await (const r of source.records(bad)) {
    if (++n % TICK_EVERY === 0) timer.tick(source.recordsRead);
    if (r.type === 'query') {
      counts.queries_read++;
      if (qids.has(r.qid)) { bad.reject(new InputError(r.file, r.line, 'qid', `duplicate qid ${r.qid}`)); continue; }
      qids.add(r.qid);
      raw.push({ qid: r.qid, query: r.query, relevant: r.relevant });
      continue;
    }
    counts.passages_read++;
    let d = store.documentOfText(r.text);
    if (d < 0) d = store.addDocument(r.text);
    else counts.duplicate_passages++;
    const known = store.documentOfSourceId(r.sourceId);
    if (known < 0) store.addSourceId(r.sourceId, d);
    else if (known !== d) counts.conflicting_source_ids++;
  }
  counts.records_read = source.recordsRead;
  counts.documents = store.count;
  // queries last: a query may name passages that come after it in the input
  const queries: CorpusQuery[] = [];
  for (const q of raw) {
    const docs: number[] = [];
    for (const id of q.relevant) {
      const d = store.documentOfSourceId(id);
      if (d < 0) counts.relevant_ids_not_in_collection++;
      else if (!docs.includes(d)) docs.push(d);
    }
    if (docs.length === 0) counts.queries_without_relevant++;
    else queries.push({ qid: q.qid, query: q.query, docs });
  }
  counts.queries = queries.length;
  timer.end(counts.records_read);
  return { docs: store, queries, counts };
}
