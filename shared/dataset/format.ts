/**
 * The prepared-dataset folder: what `prepare` writes and the trainer, workers and evaluator read.
 *
 *   manifest.json    what the folder holds and how it was made (DatasetManifest below); written last.
 *   documents.jsonl  one line per document: {"docid", "text", "source_ids": [...]}, in document order.
 *   queries.jsonl    one line per query: {"qid", "query", "docids": [...relevant], "split": "train"|"eval"}.
 *                    'eval' queries are held out: they never appear in the examples.
 *   examples.bin     the tokens of every training example as one little-endian int32 stream: example 0's
 *                    input ids, then its target ids, then example 1's input ids, ... (inputs and targets both
 *                    end with </s>; no padding).
 *   examples.idx     16-byte header: the ASCII magic "DSIX", then uint32 LE version (1), example count, and
 *                    words per record (5); then one record per example of 5 uint32 LE words
 *                    [inputOffset, inputLength, targetOffset, targetLength, kind], offsets and lengths counted
 *                    in int32 tokens from the start of examples.bin (so the stream may hold 2^32 tokens).
 *                    kind 0 = indexing (document text -> docid), 1 = retrieval (training query -> docid).
 *
 * Example i is read in O(1): record i sits at byte 16 + 20 i of the index, its tokens at byte 4 × offset of
 * examples.bin, so a worker reads any slice without loading the whole stream.
 *
 * Added by `coordinator prepare` (still version 1: a version-1 reader ignores them and reads the folder right):
 *   docids.txt       every docid, one per line, in document order: the ids the decoding trie is built from.
 *   source_ids.tsv   `source_id<TAB>docid` per source passage id (duplicates passages share one docid).
 *   augmented.jsonl  one line per augmented text: {"docid", "augmentation", "text"} (corpora and pseudo-queries).
 *   bm25.eval.trec   BM25 top-k of every held-out query, a TREC run over docids.
 *   sampling.bin     what the training loader draws query-like examples from (sampler.ts): one int32 LE
 *                    stream, per document in document order: n, then the n token ids of the document (cut
 *                    to SAMPLING_MAX_TOKENS, no </s>), then m, then m terms each as k followed by k token
 *                    ids (the document's highest tf-idf words, best first).
 *   manifest.json's optional "pipeline" object: sources, options, tool versions, counts and throughput per
 *   stage, embedder, augmentations, BM25 metrics (PipelineInfo below). Each added file has its
 *   size and sha256 under "files" like the data files.
 */
import { InputError } from '../runtime/errors.js';
import { isDocidScheme, type DocidScheme } from './docids/docids.js';

export const DATASET_FORMAT = 'dsi-prepared';
/** Bump when a reader of the previous version would misread a folder; readers refuse newer versions. */
export const DATASET_VERSION = 1;

export const MANIFEST_FILE = 'manifest.json';
export const DOCUMENTS_FILE = 'documents.jsonl';
export const QUERIES_FILE = 'queries.jsonl';
export const EXAMPLES_BIN_FILE = 'examples.bin';
export const EXAMPLES_IDX_FILE = 'examples.idx';
export const DOCIDS_FILE = 'docids.txt';
export const SOURCE_IDS_FILE = 'source_ids.tsv';
export const AUGMENTED_FILE = 'augmented.jsonl';
export const BM25_RUN_FILE = 'bm25.eval.trec';
export const SAMPLING_FILE = 'sampling.bin';
/** Document tokens kept in sampling.bin: spans are drawn from them (MS MARCO passages are ~80 tokens). */
export const SAMPLING_MAX_TOKENS = 256;
/** Top tf-idf words kept per document in sampling.bin. */
export const SAMPLING_TERMS = 8;
/** Every data file of the folder; the manifest records each one's size and sha256. */
export const DATA_FILES = [DOCUMENTS_FILE, QUERIES_FILE, EXAMPLES_BIN_FILE, EXAMPLES_IDX_FILE] as const;

export const IDX_MAGIC = 'DSIX';
export const IDX_VERSION = 1;
/** Bytes before the first record: magic, version, count, words per record. */
export const IDX_HEADER_BYTES = 16;
/** uint32 words per record: inputOffset, inputLength, targetOffset, targetLength, kind. */
export const IDX_RECORD_WORDS = 5;
export const IDX_RECORD_BYTES = IDX_RECORD_WORDS * 4;
export const TOKEN_BYTES = 4;

export const EXAMPLE_KIND_INDEXING = 0;
export const EXAMPLE_KIND_RETRIEVAL = 1;
/** 0 = indexing (document text -> docid), 1 = retrieval (training query -> docid). */
export type ExampleKind = typeof EXAMPLE_KIND_INDEXING | typeof EXAMPLE_KIND_RETRIEVAL;

/** One training pair: encoder input ids and decoder target ids, both ending with </s>. */
export interface Example {
  input: Int32Array;
  target: Int32Array;
  kind: ExampleKind;
}

/** A document: its docid, its text, and the ids it had in the source (e.g. MS MARCO pids). */
export interface Doc {
  docid: string;
  text: string;
  sourceIds: string[];
}

export const QUERY_SPLITS = ['train', 'eval'] as const;
export type QuerySplit = (typeof QUERY_SPLITS)[number];

/** Narrows a config or CLI string to a split name. */
export function isQuerySplit(v: unknown): v is QuerySplit {
  return typeof v === 'string' && (QUERY_SPLITS as readonly string[]).includes(v);
}

/** A query and the docids of its relevant documents. */
export interface Query {
  qid: string;
  query: string;
  docids: string[];
  split: QuerySplit;
}

/** Size and content hash of one data file. */
export interface FileEntry {
  bytes: number;
  sha256: string;
}

/** manifest.json, field for field (snake_case as in the file). */
export interface DatasetManifest {
  format: typeof DATASET_FORMAT;
  version: number;
  /** The program that wrote the folder, e.g. "dsi-cluster coordinator prepare". */
  created_by: string;
  /** The input file: path as given, sha256 of its bytes, and its format name (e.g. "msmarco-joined-jsonl"). */
  source: { path: string; sha256: string; format: string };
  docid_scheme: DocidScheme;
  /** Seed of the docid assignment. */
  seed: number;
  tokenizer: { name: string; sha256: string };
  /** Inputs were cut to this many tokens, </s> included. */
  max_input_tokens: number;
  counts: { documents: number; train_examples: number; eval_queries: number; train_queries: number };
  split: { eval_fraction: number; seed: number };
  files: Record<string, FileEntry>;
  /** Output rows the model needs: 32128, or 32128 + documents for atomic docids. */
  model_vocab_size: number;
  /**
   * Every text was lower-cased before tokenizing (queries at search time must be too). MS MARCO queries are
   * lower case and passages are not; the T5 tokenizer splits a lower-case name into other pieces than a
   * capitalised one. Absent in folders written before the option: false.
   */
  lowercase?: boolean;
  /** How `coordinator prepare` made the folder (absent in folders written by older preparers). */
  pipeline?: PipelineInfo;
}

/** A JSON value as written into the manifest. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * manifest.json "pipeline": a free-form record of the preparation (sources, options, tool versions, counts,
 * stages, embedder, augmentations, BM25); `coordinator eval --bm25` reads its "bm25" entry.
 */
export type PipelineInfo = { [key: string]: JsonValue };

/** The manifest fields a writer's caller chooses; the writer adds format, version, counts, files, vocab size. */
export type ManifestInfo = Omit<DatasetManifest, 'format' | 'version' | 'counts' | 'files' | 'model_vocab_size' | 'pipeline'>;

// ---- manifest validation: every problem names the field ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Field readers over one parsed JSON object; errors say `file: field 'a.b': ...`. */
class Fields {
  constructor(private readonly file: string, private readonly obj: Record<string, unknown>, private readonly prefix = '') {}

  private fail(key: string, problem: string): never {
    throw new InputError(this.file, undefined, this.prefix + key, problem);
  }
  object(key: string): Fields {
    const v = this.obj[key];
    if (!isObject(v)) this.fail(key, `expected an object, got ${JSON.stringify(v) ?? 'nothing'}`);
    return new Fields(this.file, v, `${this.prefix}${key}.`);
  }
  string(key: string): string {
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(key, `expected a string, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  }
  count(key: string): number {
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(key, `expected an integer >= 0, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  }
  fraction(key: string): number {
    const v = this.obj[key];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) this.fail(key, `expected a number in [0, 1], got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  }
  keys(): string[] {
    return Object.keys(this.obj);
  }
}

/** Checks a parsed manifest.json and returns it typed; refuses other formats and newer versions. */
export function parseManifest(file: string, json: unknown): DatasetManifest {
  if (!isObject(json)) throw new InputError(file, undefined, undefined, 'expected a JSON object at the top level');
  const f = new Fields(file, json);
  const format = f.string('format');
  if (format !== DATASET_FORMAT) throw new InputError(file, undefined, 'format', `expected "${DATASET_FORMAT}", got ${JSON.stringify(format)}: not a prepared DSI dataset`);
  const version = f.count('version');
  if (version > DATASET_VERSION) {
    throw new InputError(file, undefined, 'version',
      `written by a newer dataset format (version ${version}); this program reads version ${DATASET_VERSION}: update it or prepare the data again`);
  }
  if (version < 1) throw new InputError(file, undefined, 'version', `expected a version >= 1, got ${version}`);
  const scheme = f.string('docid_scheme');
  if (!isDocidScheme(scheme)) throw new InputError(file, undefined, 'docid_scheme', `unknown docid scheme ${JSON.stringify(scheme)}`);
  const source = f.object('source');
  const tokenizer = f.object('tokenizer');
  const counts = f.object('counts');
  const split = f.object('split');
  const filesField = f.object('files');
  const files: Record<string, FileEntry> = {};
  for (const name of filesField.keys()) {
    const entry = filesField.object(name);
    const sha256 = entry.string('sha256');
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InputError(file, undefined, `files.${name}.sha256`, `expected 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
    files[name] = { bytes: entry.count('bytes'), sha256 };
  }
  for (const name of DATA_FILES) {
    if (!(name in files)) throw new InputError(file, undefined, `files.${name}`, 'missing: the manifest must record every data file');
  }
  return {
    format: DATASET_FORMAT, version, created_by: f.string('created_by'),
    source: { path: source.string('path'), sha256: source.string('sha256'), format: source.string('format') },
    docid_scheme: scheme, seed: f.count('seed'),
    tokenizer: { name: tokenizer.string('name'), sha256: tokenizer.string('sha256') },
    max_input_tokens: f.count('max_input_tokens'),
    counts: {
      documents: counts.count('documents'), train_examples: counts.count('train_examples'),
      eval_queries: counts.count('eval_queries'), train_queries: counts.count('train_queries'),
    },
    split: { eval_fraction: split.fraction('eval_fraction'), seed: split.count('seed') },
    files,
    model_vocab_size: f.count('model_vocab_size'),
    ...(typeof json['lowercase'] === 'boolean' ? { lowercase: json['lowercase'] } : {}),
    ...(isObject(json['pipeline']) ? { pipeline: json['pipeline'] as PipelineInfo } : {}),
  };
}
