/**
 * `coordinator prepare`: an input (MS MARCO v1.1 records, MS MARCO passage ranking, or the bundled
 * sample) in, a prepared-dataset folder (format.ts) out. Stages, each timed (progress.ts) and, but for
 * the split, checkpointed in a work folder beside --out that a killed run resumes from (work_dir.ts,
 * stages.ts):
 *   1) read       stream the records; one document per distinct passage, kept on disk in the work
 *                 folder (corpus.ts, store/); later stages read the documents from there
 *   2) split      seeded: round(evalFraction × queries) held out ('eval'), the rest 'train'
 *   3) docids     naive / atomic / semantic (assign_docids.ts)
 *   4) augment    the --augment corpora (augment.ts), then --pseudo-queries per document
 *   5) bm25       the BM25 run of the held-out queries (bm25_run.ts)
 *   6) examples   tokenized and written to examples.bin/.idx (examples.ts, examples_writer.ts)
 *   7) publish    documents, queries, docids.txt, source_ids.tsv, augmented.jsonl and the BM25 run
 *                 written beside the examples, manifest last, all published by one rename (writer.ts)
 */
import { createReadStream, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, InputError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { REPO_ROOT } from '../../runtime/paths.js';
import { mixSeed, Rng } from '../../runtime/random.js';
import type { T5Tokenizer } from '../tokenizer.js';
import type { DocidScheme, DocidTable } from '../docids/docids.js';
import {
  AUGMENTED_FILE, BM25_RUN_FILE, SAMPLING_FILE, DOCIDS_FILE, SOURCE_IDS_FILE,
  type DatasetManifest, type JsonValue, type Query, type QuerySplit,
} from '../format.js';
import { BadInputPolicy } from '../sources/lines.js';
import { openSource } from '../sources/open.js';
import type { Source, SourceFormat } from '../sources/source.js';
import type { DocTextStore } from '../store/doc_texts.js';
import type { DocumentStore } from '../store/document_store.js';
import { recoverInterrupted, writePreparedDataset, type DocumentList, type ExtraFile } from '../writer.js';
import { parseAugmentSpec, type AugmentationStep } from './augment.js';
import { DOCID_PREFIX, DOCUMENT_PREFIX, type IndexingMode } from './examples.js';
import { Stages } from './progress.js';
import { samplingChunks } from './sampling.js';
import { loadStopwords } from '../augment/augment_stopwords.js';
import { augmentStage, bm25Stage, docidLines, docidStage, examplesStage, readStage } from './stages.js';
import { WorkDir, workKey } from './work_dir.js';

/** Keeps the split's random numbers apart from the docids' (the stream the former sample preparer used: same split). */
const SPLIT_STREAM = 0x73706c74; // "splt"
const CREATED_BY = 'dsi-cluster coordinator prepare';
/** Libraries whose versions the manifest records. */
const TOOLS = ['@xenova/transformers', 'hyparquet', 'ml-kmeans', 'n2words', 'wink-pos-tagger'];

export interface PrepareOptions {
  format: SourceFormat;
  /** Records file, or collection.tsv for msmarco-passage. */
  input: string;
  /** msmarco-passage: queries TSV and TREC qrels. */
  queries?: string;
  qrels?: string;
  out: string;
  scheme: DocidScheme;
  seed: number;
  evalFraction: number;
  maxInputTokens: number;
  /** Lower-case every text before tokenizing (MS MARCO queries are lower case, passages are not). */
  lowercase: boolean;
  indexing: IndexingMode;
  /** Augmented corpora, e.g. "stopwords,num2text+pos-mlm" (augment.ts). */
  augment: string;
  posMlmShare: number;
  /** Local fill-mask folder for POS-MLM; empty: the corpus filler. */
  mlmModel: string;
  /** Pseudo-queries per document; 0: none. */
  pseudoQueries: number;
  /** Local doc2query folder; empty: the key-phrase generator. */
  doc2queryModel: string;
  /** Local BERT-family folder for semantic ids; empty: TF-IDF + SVD. */
  embedderModel: string;
  semanticK: number;
  semanticMaxLeaf: number;
  /** Semantic docids: documents sampled to fit TF-IDF + SVD. */
  semanticFitSample: number;
  /** Semantic docids: k-means nodes larger than this fit their centroids on a sample of this many. */
  semanticKmeansSample: number;
  /** BM25 documents per held-out query; 0: no BM25 run. */
  bm25TopK: number;
  bm25K1: number;
  bm25B: number;
  skipBad: boolean;
  overwrite: boolean;
  /** Examples between checkpoints of the examples stage (a resumed run goes on from the last). @default 200000 */
  checkpointExamples?: number;
  tokenizer: T5Tokenizer;
  log: Logger;
}

export async function prepareDataset(o: PrepareOptions): Promise<DatasetManifest> {
  checkOptions(o);
  const chains = parseAugmentSpec(o.augment);
  const log = o.log.child({ component: 'prepare' });
  const stages = new Stages(log);
  const bad = new BadInputPolicy(o.skipBad);
  const source = await openSource(o.format, { input: o.input, queries: o.queries, qrels: o.qrels });
  // a run killed earlier may have left its folders beside --out: finish or undo its publish, drop the rest
  for (const r of await recoverInterrupted(o.out)) log.warn({ ...r }, 'left by an interrupted prepare');
  // refused now, not after hours of work (the writer checks again when it publishes)
  if (!o.overwrite && (await folderHasEntries(o.out))) throw new InputError(resolve(o.out), undefined, undefined, 'folder exists and is not empty: pass overwrite to replace it');
  const work = await WorkDir.open(o.out, await workKey(outputOptions(o), o.tokenizer.sha256, source.files), log);
  const stores: Array<{ close(keep: boolean): void }> = [];
  let published = false;
  try {
    const manifest = await prepareIn(work, o, { chains, stages, bad, source, stores });
    published = true;
    return manifest;
  } finally {
    for (const s of stores) s.close(true);
    // kept for the next run unless published, or nothing in it can be resumed
    if (published || !work.hasCheckpoints()) await work.remove();
    else work.release();
  }
}

interface Run {
  chains: AugmentationStep[][];
  stages: Stages;
  bad: BadInputPolicy;
  source: Source;
  /** Stores to close when the run ends, however it ends (their files stay for a resumed run). */
  stores: Array<{ close(keep: boolean): void }>;
}

async function prepareIn(work: WorkDir, o: PrepareOptions, { chains, stages, bad, source, stores }: Run): Promise<DatasetManifest> {
  // 1) read: documents into the store on disk
  const corpus = await readStage(work, o, source, bad, stages);
  const docs = corpus.docs;
  stores.push(docs);

  // 2) split: a seeded permutation of the queries (recomputed on resume: it is cheap and seeded); its first numEval are held out
  const numEval = Math.round(o.evalFraction * corpus.queries.length);
  const order = new Rng(mixSeed(o.seed, SPLIT_STREAM)).permutation(corpus.queries.length);
  const split = new Array<QuerySplit>(corpus.queries.length).fill('train');
  for (let k = 0; k < numEval; k++) split[order[k] ?? 0] = 'eval';

  // 3) docids
  const { docids, info: docidInfo } = await docidStage(work, o, docs, stages);
  const queries: Query[] = corpus.queries.map((q, i) => ({ qid: q.qid, query: q.query, docids: q.docs.map((d) => docids.get(d)), split: split[i] ?? 'train' }));

  // 4) augmented corpora and pseudo-queries, into stores on disk
  const aug = await augmentStage(work, o, docs, chains, stages);
  stores.push(aug.augmented, aug.pseudo);
  const { augmented, pseudo } = aug;

  // 5) the BM25 run of the held-out queries, into the work folder
  const evalQueries = queries.filter((q) => q.split === 'eval');
  const bm25 = await bm25Stage(work, o, docs, docids, evalQueries, stages);

  // 6) examples, tokenized into examples.bin/.idx in the work folder (checkpointed as they go)
  const trainQueries = queries.filter((q) => q.split === 'train');
  const examples = await examplesStage(work, o, stages, {
    texts: docs.texts(), docids, scheme: o.scheme, mode: o.indexing, augmented: augmented.entries(), pseudoQueries: pseudo.entries(), trainQueries,
    tokenizer: o.tokenizer, maxInputTokens: o.maxInputTokens, lowercase: o.lowercase,
  });

  // 7) publish: documents, queries and the other files written next to the examples, manifest last, one rename
  work.resumed('publish');
  const documents: DocumentList = { count: docs.count, docid: (d) => docids.get(d), all: () => docs.documents((d) => docids.get(d)) };
  const extraFiles: ExtraFile[] = [
    { name: DOCIDS_FILE, chunks: docidLines(docids) },
    { name: SOURCE_IDS_FILE, chunks: sourceIdLines(docs, docids) },
    { name: AUGMENTED_FILE, chunks: augmentedLines(docids, augmented, pseudo) },
    { name: SAMPLING_FILE, chunks: samplingChunks({ texts: () => docs.texts(), tokenizer: o.tokenizer, lowercase: o.lowercase, stopwords: await loadStopwords() }) },
    ...(bm25 ? [{ name: BM25_RUN_FILE, chunks: createReadStream(bm25.file, { encoding: 'utf8' }) as AsyncIterable<string> }] : []),
  ];

  const pipeline = (): { [key: string]: JsonValue } => ({
    sources: source.files.map((f) => ({ role: f.role, path: f.path, bytes: f.bytes, sha256: f.sha256 })),
    options: {
      format: o.format, docids: o.scheme, seed: o.seed, eval_fraction: o.evalFraction, max_input_tokens: o.maxInputTokens, lowercase: o.lowercase,
      indexing: o.indexing, augment: o.augment, pos_mlm_share: o.posMlmShare, pseudo_queries: o.pseudoQueries,
      bm25_top_k: o.bm25TopK, bm25_k1: o.bm25K1, bm25_b: o.bm25B, skip_bad: o.skipBad,
    },
    tools: toolVersions(),
    docids: docidInfo,
    indexing: { mode: o.indexing, ...(o.indexing === 'bidirectional' ? { document_prefix: DOCUMENT_PREFIX, docid_prefix: DOCID_PREFIX } : {}) },
    augmentations: aug.report,
    pseudo_queries: { per_document: o.pseudoQueries, total: pseudo.count, ...(aug.pseudoInfo ?? {}) },
    counts: { ...corpus.counts, ...corpus.unused, train_queries: trainQueries.length, eval_queries: evalQueries.length, examples: { ...examples.counts }, bad_records_skipped: bad.skipped },
    bad_input: bad.report(),
    bm25: bm25 ? { k1: o.bm25K1, b: o.bm25B, top_k: o.bm25TopK, run_file: BM25_RUN_FILE, split: 'eval', ...bm25.metrics } : null,
    stages: stages.records.map((s) => ({ ...s })),
    ...(work.resumedAt !== undefined ? { resumed: { at: work.resumedAt, restored: [...work.restored] } } : {}),
  });

  const first = source.files[0];
  return writePreparedDataset(o.out, {
    info: {
      created_by: CREATED_BY,
      source: { path: o.input, sha256: first?.sha256 ?? '', format: sourceFormatName(o) },
      docid_scheme: o.scheme, seed: o.seed,
      tokenizer: { name: o.tokenizer.name, sha256: o.tokenizer.sha256 },
      max_input_tokens: o.maxInputTokens, lowercase: o.lowercase,
      split: { eval_fraction: o.evalFraction, seed: o.seed },
    },
    documents, queries, examples: { dir: work.dir, written: examples.written }, extraFiles, pipeline,
  }, { overwrite: o.overwrite });
}

/** The options that decide the output (what the work folder's key hashes): all but overwrite, the logger, the tokenizer object and checkpoint intervals. */
function outputOptions(o: PrepareOptions): Record<string, JsonValue> {
  const { log: _log, overwrite: _overwrite, tokenizer: _tokenizer, checkpointExamples: _every, ...rest } = o;
  // paths resolved: the same files named another way are the same run
  const paths = { out: resolve(o.out), input: resolve(o.input), queries: o.queries ? resolve(o.queries) : '', qrels: o.qrels ? resolve(o.qrels) : '' };
  return Object.fromEntries(Object.entries({ ...rest, ...paths }).map(([k, v]) => [k, v ?? null])) as Record<string, JsonValue>;
}

async function folderHasEntries(dir: string): Promise<boolean> {
  return (await readdir(resolve(dir)).catch(() => [] as string[])).length > 0;
}

function checkOptions(o: PrepareOptions): void {
  if (!o.out) throw new ConfigError('prepare.out', 'give the dataset folder to create: --out DIR');
  if (!o.input) throw new ConfigError('prepare.input', 'give the input file: --input PATH');
  // 1: every query is judged and none trains (a TREC-style test collection): the model learns from the documents alone
  if (!(o.evalFraction >= 0 && o.evalFraction <= 1)) throw new ConfigError('prepare.evalFraction', `must be in [0, 1], got ${o.evalFraction}`);
  if (!(o.posMlmShare >= 0 && o.posMlmShare <= 1)) throw new ConfigError('prepare.posMlmShare', `must be in [0, 1], got ${o.posMlmShare}`);
  if (!Number.isInteger(o.maxInputTokens) || o.maxInputTokens < 2) throw new ConfigError('data.maxInputTokens', `must be an integer >= 2, got ${o.maxInputTokens}`);
  if (o.semanticK < 2) throw new ConfigError('prepare.semanticK', `must be >= 2, got ${o.semanticK}`);
  if (o.semanticKmeansSample < o.semanticK) throw new ConfigError('prepare.semanticKmeansSample', `must be >= semanticK (${o.semanticK}), got ${o.semanticKmeansSample}`);
}

/** The manifest's source.format: the format and, for v1.1, the file type read. */
function sourceFormatName(o: PrepareOptions): string {
  if (o.format === 'msmarco-v1.1') return o.input.toLowerCase().endsWith('.parquet') ? 'msmarco-v1.1-parquet' : 'msmarco-v1.1-jsonl';
  return o.format === 'sample' ? 'msmarco-joined-jsonl' : 'msmarco-passage-tsv';
}

function* sourceIdLines(docs: DocumentStore, docids: DocidTable): Generator<string> {
  for (let d = 0; d < docs.count; d++) {
    const docid = docids.get(d);
    for (const s of docs.sourceIds(d)) yield `${s}\t${docid}\n`;
  }
}

function* augmentedLines(docids: DocidTable, augmented: DocTextStore, pseudo: DocTextStore): Generator<string> {
  for (const store of [augmented, pseudo]) {
    for (const a of store.entries()) yield JSON.stringify({ docid: docids.get(a.doc), augmentation: a.kind, text: a.text }) + '\n';
  }
}

/** Versions of node, this package and the libraries that shaped the data. */
function toolVersions(): { [key: string]: JsonValue } {
  const version = (dir: string): string => {
    try {
      const v = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
      return typeof v === 'string' ? v : 'unknown';
    } catch {
      return 'not installed';
    }
  };
  const out: { [key: string]: JsonValue } = { node: process.version, 'dsi-cluster': version(REPO_ROOT) };
  for (const t of TOOLS) out[t] = version(join(REPO_ROOT, 'node_modules', t));
  return out;
}
