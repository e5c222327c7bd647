/**
 * MS MARCO passage ranking: collection.tsv (`pid<TAB>passage`), a queries TSV (`qid<TAB>query`) and TREC
 * qrels (`qid 0 pid relevance`, whitespace-separated; relevance > 0 is relevant). Given as three files:
 * `--input collection.tsv --queries queries.dev.small.tsv --qrels qrels.dev.small.tsv`.
 *
 * The qrels and the queries are read first (small: about 10^5 lines), then the collection is streamed.
 * Every passage of the collection becomes a source passage; each query with its relevant pids (a query
 * without qrels is passed on with none and counted by the corpus stage; qrels of qids the queries file
 * lacks are counted as unused.qrels_of_unknown_queries).
 */
import { InputError } from '../../runtime/errors.js';
import { BadInputPolicy, openSourceFile, readLines, type SourceFile } from './lines.js';
import type { Source, SourceRecord } from './source.js';

export interface PassageRankingFiles {
  collection: string;
  queries: string;
  qrels: string;
}

export async function openMsmarcoPassageSource(paths: PassageRankingFiles): Promise<Source> {
  const collection = await openSourceFile('collection', paths.collection);
  const queries = await openSourceFile('queries', paths.queries);
  const qrels = await openSourceFile('qrels', paths.qrels);
  const state = { read: 0 };
  const unused = { qrels_of_unknown_queries: 0 };
  async function* records(bad: BadInputPolicy): AsyncGenerator<SourceRecord> {
    const relevant = await readQrels(qrels, bad, state);
    const parsedQueries: SourceRecord[] = [];
    const seen = new Set<string>();
    for await (const { line, text } of readLines(queries)) {
      state.read++;
      const cols = tabFields(queries, line, text, bad);
      if (cols === undefined) continue;
      const [qid, query] = cols;
      if (seen.has(qid)) { bad.reject(new InputError(queries.path, line, 'qid', `duplicate qid ${qid}`)); continue; }
      seen.add(qid);
      parsedQueries.push({ type: 'query', qid, query, relevant: relevant.get(qid) ?? [], file: queries.path, line });
    }
    for (const [qid, pids] of relevant) if (!seen.has(qid)) unused.qrels_of_unknown_queries += pids.length;
    for await (const { line, text } of readLines(collection)) {
      state.read++;
      const cols = tabFields(collection, line, text, bad);
      if (cols !== undefined) yield { type: 'passage', sourceId: cols[0], text: cols[1] };
    }
    yield* parsedQueries;
  }
  return { format: 'msmarco-passage', files: [collection, queries, qrels], records, get recordsRead() { return state.read; }, unused };
}

/** `id<TAB>text` with a non-empty id and text, or undefined after reporting a malformed line. */
function tabFields(file: SourceFile, line: number, text: string, bad: BadInputPolicy): [string, string] | undefined {
  const tab = text.indexOf('\t');
  const id = tab < 0 ? '' : text.slice(0, tab).trim();
  const body = tab < 0 ? '' : text.slice(tab + 1).trim();
  if (tab < 0) bad.reject(new InputError(file.path, line, undefined, 'expected "id<TAB>text", found no tab'));
  else if (id === '' || /\s/.test(id)) bad.reject(new InputError(file.path, line, 'id', `expected one word before the tab, got ${JSON.stringify(id)}`));
  else if (body === '') bad.reject(new InputError(file.path, line, 'text', 'empty text after the tab'));
  else return [id, body];
  return undefined;
}

/** qid -> relevant pids (relevance > 0), in file order. */
async function readQrels(file: SourceFile, bad: BadInputPolicy, state: { read: number }): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for await (const { line, text } of readLines(file)) {
    state.read++;
    const cols = text.trim().split(/\s+/);
    const [qid, , pid, rel] = cols;
    if (cols.length !== 4 || qid === undefined || pid === undefined || rel === undefined) {
      bad.reject(new InputError(file.path, line, undefined, `expected 4 fields "qid iteration pid relevance", got ${cols.length}`));
      continue;
    }
    if (!/^-?\d+$/.test(rel)) { bad.reject(new InputError(file.path, line, 'relevance', `expected an integer, got ${JSON.stringify(rel)}`)); continue; }
    if (Number(rel) <= 0) continue;
    const list = out.get(qid) ?? [];
    if (!list.includes(pid)) list.push(pid);
    out.set(qid, list);
  }
  return out;
}
