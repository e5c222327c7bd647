/**
 * Opens a prepared-dataset folder (layout in format.ts): checks the manifest, each file's size and sha256,
 * and the example index, then serves examples by global index with one positioned read each.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../runtime/errors.js';
import { docidProblem, docidToTokens } from './docids/docids.js';
import { readSamplingFile, type SamplingData } from './sampling_file.js';
import {
  DATA_FILES, DOCUMENTS_FILE, EXAMPLES_BIN_FILE, EXAMPLES_IDX_FILE, IDX_HEADER_BYTES, IDX_MAGIC, IDX_RECORD_WORDS,
  IDX_VERSION, MANIFEST_FILE, QUERIES_FILE, SAMPLING_FILE, TOKEN_BYTES, isQuerySplit, parseManifest,
  type DatasetManifest, type Doc, type Example, type ExampleKind, type Query, type QuerySplit,
} from './format.js';

export interface PreparedDataset {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  /** Training examples (indexing + retrieval), addressed 0..numExamples-1. */
  readonly numExamples: number;
  /** Example i, read from disk (one positioned read of its tokens). */
  example(i: number): Example;
  /** Example i's kind, from the index in memory (no read). */
  exampleKind(i: number): ExampleKind;
  /** All documents, in document order. */
  documents(): Doc[];
  /** The queries of one split, in file order. */
  queries(split: QuerySplit): Query[];
  /** The decoder target of every document's docid, in document order (for the constrained-decoding trie). */
  docidTokens(): Int32Array[];
  /** What the training loader samples query-like examples from; undefined when the folder has no sampling.bin. */
  sampling(): SamplingData | undefined;
  /** Releases the open examples.bin; later example() calls throw. */
  close(): void;
}

export interface OpenDatasetOptions {
  /** Hash every file and compare with the manifest (about 1 s per 500 MB). @default true */
  verifySha256?: boolean;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readManifest(file: string): Promise<DatasetManifest> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new InputError(file, undefined, undefined, 'missing or unreadable: not a prepared dataset folder (run prepare first)', { cause: err });
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, undefined, undefined, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseManifest(file, json);
}

function stringField(file: string, line: number, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new InputError(file, line, key, `expected a string, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function stringsField(file: string, line: number, obj: Record<string, unknown>, key: string): string[] {
  const v = obj[key];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new InputError(file, line, key, `expected an array of strings, got ${JSON.stringify(v) ?? 'nothing'}`);
  }
  return v as string[];
}

/** Checks every file's size, and with `verify` its sha256, against the manifest. */
async function checkFiles(dir: string, manifest: DatasetManifest, verify: boolean): Promise<void> {
  for (const name of DATA_FILES) {
    const file = join(dir, name);
    const expected = manifest.files[name];
    if (expected === undefined) throw new InputError(join(dir, MANIFEST_FILE), undefined, `files.${name}`, 'missing'); // parseManifest checks too
    const info = await stat(file).catch((err: unknown) => {
      throw new InputError(file, undefined, undefined, 'missing: the folder is incomplete, prepare it again', { cause: err });
    });
    if (info.size !== expected.bytes) {
      throw new InputError(file, undefined, undefined, `is ${info.size} bytes, the manifest records ${expected.bytes}: the file changed after prepare`);
    }
    if (verify) {
      const actual = await sha256File(file);
      if (actual !== expected.sha256) {
        throw new InputError(file, undefined, undefined, `sha256 ${actual} differs from the manifest's ${expected.sha256}: the file changed after prepare`);
      }
    }
  }
}

/** Reads and checks examples.idx: header, count, and every record inside examples.bin. */
async function readIndex(dir: string, manifest: DatasetManifest): Promise<Uint32Array> {
  const file = join(dir, EXAMPLES_IDX_FILE);
  const buf = await readFile(file);
  if (buf.length < IDX_HEADER_BYTES || buf.toString('ascii', 0, 4) !== IDX_MAGIC) {
    throw new InputError(file, undefined, undefined, `does not start with the magic "${IDX_MAGIC}": not an example index`);
  }
  const version = buf.readUInt32LE(4), count = buf.readUInt32LE(8), words = buf.readUInt32LE(12);
  if (version > IDX_VERSION) throw new InputError(file, undefined, 'version', `index version ${version} is newer than this program's ${IDX_VERSION}`);
  if (words !== IDX_RECORD_WORDS) throw new InputError(file, undefined, 'words per record', `expected ${IDX_RECORD_WORDS}, got ${words}`);
  if (count !== manifest.counts.train_examples) {
    throw new InputError(file, undefined, 'count', `holds ${count} examples, the manifest counts ${manifest.counts.train_examples}`);
  }
  const expectedBytes = IDX_HEADER_BYTES + count * IDX_RECORD_WORDS * 4;
  if (buf.length !== expectedBytes) throw new InputError(file, undefined, undefined, `is ${buf.length} bytes, ${count} records need ${expectedBytes}`);
  const records = new Uint32Array(count * IDX_RECORD_WORDS);
  for (let i = 0; i < records.length; i++) records[i] = buf.readUInt32LE(IDX_HEADER_BYTES + i * 4);
  const binTokens = (manifest.files[EXAMPLES_BIN_FILE]?.bytes ?? 0) / TOKEN_BYTES;
  for (let i = 0; i < count; i++) {
    const r = i * IDX_RECORD_WORDS;
    const [inOff, inLen, tgOff, tgLen, kind] = [records[r], records[r + 1], records[r + 2], records[r + 3], records[r + 4]].map((w) => w ?? 0) as
      [number, number, number, number, number];
    if (inLen === 0 || tgLen === 0 || inOff + inLen > binTokens || tgOff + tgLen > binTokens) {
      throw new InputError(file, undefined, `record ${i}`, `[${inOff}, ${inLen}, ${tgOff}, ${tgLen}] is empty or outside examples.bin (${binTokens} tokens)`);
    }
    if (kind > 1) throw new InputError(file, undefined, `record ${i}`, `unknown example kind ${kind}`);
  }
  return records;
}

/**
 * Opens the prepared dataset at `dir`. Throws InputError naming the file (and field or line) when the
 * manifest is missing, malformed or from a newer version, or a file is missing, resized or altered.
 */
export async function openPreparedDataset(dir: string, options: OpenDatasetOptions = {}): Promise<PreparedDataset> {
  const root = resolve(dir);
  const manifest = await readManifest(join(root, MANIFEST_FILE));
  await checkFiles(root, manifest, options.verifySha256 ?? true);
  const index = await readIndex(root, manifest);
  const binFile = join(root, EXAMPLES_BIN_FILE);
  if (manifest.files[EXAMPLES_BIN_FILE]!.bytes % TOKEN_BYTES !== 0) { // present: checkFiles verified every data file
    throw new InputError(binFile, undefined, undefined, `size is not a multiple of ${TOKEN_BYTES} bytes (int32 tokens)`);
  }
  const docsFile = join(root, DOCUMENTS_FILE);
  const queriesFile = join(root, QUERIES_FILE);
  const numExamples = manifest.counts.train_examples;
  let fd: number | undefined = openSync(binFile, 'r');
  let sampling: SamplingData | undefined;   // read on first use, then kept

  /** `n` tokens from token offset `off` of examples.bin. */
  const readTokens = (handle: number, off: number, n: number): Int32Array => {
    const out = new Int32Array(n);
    const bytes = new Uint8Array(out.buffer);
    const got = readSync(handle, bytes, 0, bytes.length, off * TOKEN_BYTES);
    if (got !== bytes.length) throw new InputError(binFile, undefined, undefined, `short read at token ${off}: the file changed after open`);
    return out;
  };

  return {
    dir: root, manifest, numExamples,
    example(i: number): Example {
      if (!Number.isInteger(i) || i < 0 || i >= numExamples) throw new RangeError(`example index ${i} outside [0, ${numExamples})`);
      if (fd === undefined) throw new Error(`${root}: dataset is closed`);
      const r = i * IDX_RECORD_WORDS; // records were checked on open
      return {
        input: readTokens(fd, index[r] ?? 0, index[r + 1] ?? 0),
        target: readTokens(fd, index[r + 2] ?? 0, index[r + 3] ?? 0),
        kind: (index[r + 4] ?? 0) as ExampleKind,
      };
    },
    exampleKind(i: number): ExampleKind {
      if (!Number.isInteger(i) || i < 0 || i >= numExamples) throw new RangeError(`example index ${i} outside [0, ${numExamples})`);
      return (index[i * IDX_RECORD_WORDS + 4] ?? 0) as ExampleKind;
    },
    documents(): Doc[] {
      return documentsOf(docsFile, manifest);
    },
    queries(split: QuerySplit): Query[] {
      return queriesOf(queriesFile).filter((q) => q.split === split);
    },
    docidTokens(): Int32Array[] {
      return documentsOf(docsFile, manifest).map((d) => docidToTokens(manifest.docid_scheme, d.docid));
    },
    sampling(): SamplingData | undefined {
      if (!(SAMPLING_FILE in manifest.files)) return undefined;
      sampling ??= readSamplingFile(join(root, SAMPLING_FILE), manifest.counts.documents, manifest.files[SAMPLING_FILE]?.bytes);
      return sampling;
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

// documents.jsonl and queries.jsonl are read on demand, synchronously: they are small next to the examples
// and read about once per process (the decoding trie, the evaluation queries).

/** Parses a JSON-lines file, one object per line; `row` checks and converts each. */
function readJsonl<T>(file: string, row: (obj: Record<string, unknown>, line: number) => T): T[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline
  return lines.map((text, i) => {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new InputError(file, i + 1, undefined, `not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, i + 1, undefined, 'expected a JSON object');
    return row(obj as Record<string, unknown>, i + 1);
  });
}

function documentsOf(file: string, manifest: DatasetManifest): Doc[] {
  const docs = readJsonl(file, (obj, line): Doc => {
    const docid = stringField(file, line, obj, 'docid');
    const problem = docidProblem(manifest.docid_scheme, docid);
    if (problem !== undefined) throw new InputError(file, line, 'docid', problem);
    return { docid, text: stringField(file, line, obj, 'text'), sourceIds: stringsField(file, line, obj, 'source_ids') };
  });
  if (docs.length !== manifest.counts.documents) {
    throw new InputError(file, undefined, undefined, `holds ${docs.length} documents, the manifest counts ${manifest.counts.documents}`);
  }
  return docs;
}

function queriesOf(file: string): Query[] {
  return readJsonl(file, (obj, line): Query => {
    const split = stringField(file, line, obj, 'split');
    if (!isQuerySplit(split)) throw new InputError(file, line, 'split', `expected "train" or "eval", got ${JSON.stringify(split)}`);
    return {
      qid: stringField(file, line, obj, 'qid'), query: stringField(file, line, obj, 'query'),
      docids: stringsField(file, line, obj, 'docids'), split,
    };
  });
}
