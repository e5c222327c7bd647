/**
 * Prepares a dataset folder from a joined MS MARCO JSON-lines file such as the bundled
 * data/msmarco-sample/dev_small_sample.jsonl: one line per query,
 * {"qid", "query", "passage", "qrel_pids": [...], "pid": string | null}.
 *
 * 1) every distinct passage text becomes a document (source_ids: the line's pid, when it has one);
 * 2) every query becomes a query whose relevant docids are its own passage's document plus any document
 *    whose source id is among its qrel_pids;
 * 3) a seeded shuffle puts round(evalFraction × queries) queries in 'eval' (held out) and the rest in 'train';
 * 4) examples: one indexing example per document (passage -> docid), then one retrieval example per train
 *    query (query -> the docid of its own passage), inputs cut to maxInputTokens.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { mixSeed, Rng } from '../random.js';
import type { T5Tokenizer } from '../tokenizer.js';
import { assignAtomicDocids, assignNaiveDocids, docidToTokens } from './docids.js';
import {
  EXAMPLE_KIND_INDEXING, EXAMPLE_KIND_RETRIEVAL,
  type DatasetManifest, type Doc, type Example, type Query, type QuerySplit,
} from './format.js';
import { writePreparedDataset } from './writer.js';

/** Share of queries held out for evaluation. */
export const DEFAULT_EVAL_FRACTION = 0.2;
/** Encoder inputs are cut to this many tokens, </s> included (MS MARCO passages are ~80 tokens). */
export const DEFAULT_MAX_INPUT_TOKENS = 64;
export const SOURCE_FORMAT = 'msmarco-joined-jsonl';
const CREATED_BY = 'dsi-cluster shared/dataset/prepare_sample.ts';
/** Separates the split's random numbers from the docid assignment's for one seed. */
const SPLIT_STREAM = 0x73706c74; // "splt"

export interface PrepareSampleOptions {
  /** The joined JSON-lines file. */
  input: string;
  /** The dataset folder to create. */
  out: string;
  scheme: 'naive' | 'atomic';
  /** Seed of the docid assignment and of the split. */
  seed: number;
  /** @default DEFAULT_EVAL_FRACTION (0.2) */
  evalFraction?: number;
  /** @default DEFAULT_MAX_INPUT_TOKENS (64) */
  maxInputTokens?: number;
  tokenizer: T5Tokenizer;
  /** Replace an existing non-empty `out`. @default false */
  overwrite?: boolean;
}

/** One checked line of the joined file. */
interface JoinedRow {
  qid: string;
  query: string;
  passage: string;
  qrelPids: string[];
  pid: string | null;
}

function parseRow(file: string, line: number, text: string): JoinedRow {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, line, undefined, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, line, undefined, 'expected a JSON object');
  const o = obj as Record<string, unknown>;
  const str = (key: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v.trim() === '') throw new InputError(file, line, key, `expected a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  };
  const qrels = o['qrel_pids'];
  if (!Array.isArray(qrels) || !qrels.every((p) => typeof p === 'string')) {
    throw new InputError(file, line, 'qrel_pids', `expected an array of strings, got ${JSON.stringify(qrels) ?? 'nothing'}`);
  }
  const pid = o['pid'];
  if (pid !== null && typeof pid !== 'string') throw new InputError(file, line, 'pid', `expected a string or null, got ${JSON.stringify(pid) ?? 'nothing'}`);
  return { qid: str('qid'), query: str('query'), passage: str('passage'), qrelPids: qrels as string[], pid };
}

/** Reads the joined file; returns its rows and the sha256 of its bytes. */
async function readJoined(file: string): Promise<{ rows: JoinedRow[]; sha256: string }> {
  const bytes = await readFile(file).catch((err: unknown) => {
    throw new InputError(file, undefined, undefined, 'cannot read the input file', { cause: err });
  });
  const rows: JoinedRow[] = [];
  const qids = new Set<string>();
  bytes.toString('utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '') return; // blank lines (and the final newline) carry nothing
    const row = parseRow(file, i + 1, text);
    if (qids.has(row.qid)) throw new InputError(file, i + 1, 'qid', `duplicate qid ${row.qid}`);
    qids.add(row.qid);
    rows.push(row);
  });
  if (rows.length === 0) throw new InputError(file, undefined, undefined, 'holds no queries');
  return { rows, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Prepares `input` into the dataset folder `out`; returns the written manifest. */
export async function prepareFromJoinedJsonl(options: PrepareSampleOptions): Promise<DatasetManifest> {
  const evalFraction = options.evalFraction ?? DEFAULT_EVAL_FRACTION;
  const maxInputTokens = options.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  if (!(evalFraction >= 0 && evalFraction < 1)) throw new RangeError(`evalFraction must be in [0, 1), got ${evalFraction}`);
  if (!Number.isInteger(maxInputTokens) || maxInputTokens < 2) throw new RangeError(`maxInputTokens must be an integer >= 2, got ${maxInputTokens}`);
  const { rows, sha256 } = await readJoined(options.input);

  // 1) documents: distinct passages in order of first appearance
  const docOfText = new Map<string, number>();
  const texts: string[] = [];
  const sourceIds: string[][] = [];
  const rowDoc = rows.map((r) => {
    let d = docOfText.get(r.passage);
    if (d === undefined) {
      d = texts.length;
      docOfText.set(r.passage, d);
      texts.push(r.passage);
      sourceIds.push([]);
    }
    const ids = sourceIds[d] ?? [];
    if (r.pid !== null && !ids.includes(r.pid)) ids.push(r.pid);
    return d;
  });
  const docids = options.scheme === 'naive' ? assignNaiveDocids(texts.length, options.seed) : assignAtomicDocids(texts.length);
  const documents: Doc[] = texts.map((text, d) => ({ docid: docids[d] ?? '', text, sourceIds: sourceIds[d] ?? [] }));
  const docOfPid = new Map<string, number>();
  sourceIds.forEach((ids, d) => ids.forEach((pid) => docOfPid.set(pid, d)));

  // 2) + 3) queries and the seeded split
  const numEval = Math.round(evalFraction * rows.length);
  const order = new Rng(mixSeed(options.seed, SPLIT_STREAM)).permutation(rows.length);
  const split: QuerySplit[] = new Array<QuerySplit>(rows.length).fill('train');
  for (let k = 0; k < numEval; k++) split[order[k] ?? 0] = 'eval';
  const queries: Query[] = rows.map((r, i) => {
    const own = rowDoc[i] ?? 0;
    const relevant = new Set<number>([own]);
    for (const pid of r.qrelPids) {
      const d = docOfPid.get(pid);
      if (d !== undefined) relevant.add(d);
    }
    return { qid: r.qid, query: r.query, docids: [...relevant].map((d) => docids[d] ?? ''), split: split[i] ?? 'train' };
  });

  // 4) examples, generated while the writer streams them to disk
  const tok = options.tokenizer;
  const scheme = options.scheme;
  function* examples(): Generator<Example> {
    for (const doc of documents) {
      yield { input: tok.encode(doc.text, maxInputTokens), target: docidToTokens(scheme, doc.docid), kind: EXAMPLE_KIND_INDEXING };
    }
    for (let i = 0; i < rows.length; i++) {
      if (split[i] !== 'train') continue;
      const docid = docids[rowDoc[i] ?? 0] ?? '';
      yield { input: tok.encode(rows[i]?.query ?? '', maxInputTokens), target: docidToTokens(scheme, docid), kind: EXAMPLE_KIND_RETRIEVAL };
    }
  }

  return writePreparedDataset(options.out, {
    info: {
      created_by: CREATED_BY,
      source: { path: options.input, sha256, format: SOURCE_FORMAT },
      docid_scheme: scheme, seed: options.seed,
      tokenizer: { name: tok.name, sha256: tok.sha256 },
      max_input_tokens: maxInputTokens,
      split: { eval_fraction: evalFraction, seed: options.seed },
    },
    documents, queries, examples: examples(),
  }, { overwrite: options.overwrite ?? false });
}
