/**
 * Writes a prepared-dataset folder (layout in format.ts) all or nothing: every file goes into a hidden
 * temporary folder next to the target, manifest.json last, and one rename publishes it. An interrupted
 * publish leaves at most hidden `.NAME.{tmp,old}-PID-STAMP` folders behind, never a half-written NAME;
 * the next run for NAME (recoverInterrupted) finishes a publish the kill cut short (a tmp folder with
 * its manifest is complete), or puts the replaced folder back, and deletes the rest (and the
 * `.NAME.work-PID-STAMP` scratch folders of older versions; prepare's resumable work folder is
 * prepare/work_dir.ts's). examples.bin/.idx may come already written (a resumable prepare writes them
 * in its work folder): they are hard-linked into the temporary folder.
 */
import { copyFile, link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../runtime/errors.js';
import { docidProblem, modelVocabSize } from './docids/docids.js';
import { writeExamples, type WrittenExamples } from './examples_writer.js';
import { HashedFile } from './hashed_file.js';
import { StringHashIndex } from './store/hash_index.js';
import {
  DATA_FILES, DATASET_FORMAT, DATASET_VERSION, DOCUMENTS_FILE, EXAMPLES_BIN_FILE, EXAMPLES_IDX_FILE, MANIFEST_FILE, QUERIES_FILE,
  type DatasetManifest, type Doc, type Example, type FileEntry, type ManifestInfo, type PipelineInfo, type Query,
} from './format.js';

/** The documents of a folder: how many, each one's docid, and one pass over all of them in order. */
export interface DocumentList {
  readonly count: number;
  docid(d: number): string;
  /** Every document in order; read once, while documents.jsonl is written. */
  all(): Iterable<Doc>;
}

export interface DatasetContent {
  info: ManifestInfo;
  /** In document order; docids unique and valid under info.docid_scheme. */
  documents: DocumentList;
  /** Each query's docids must name documents above. */
  queries: readonly Query[];
  /** Read once, in order; example i of the folder is the i-th item. Or examples.bin and examples.idx
   *  already written in `dir` (a resumable prepare writes them in its work folder): linked in, not copied. */
  examples: Iterable<Example> | PrewrittenExamples;
  /** More files, written after the examples in this order, each from its text chunks (read once). */
  extraFiles?: ReadonlyArray<ExtraFile>;
  /** The manifest's "pipeline" record, asked for after every file is written (so it can hold their counts). */
  pipeline?: () => PipelineInfo;
}

/** examples.bin and examples.idx written beforehand (examples_writer.ts) in `dir`, beside the target. */
export interface PrewrittenExamples {
  dir: string;
  written: WrittenExamples;
}

/** A file beside the data files; its size and sha256 go into the manifest's "files". */
export interface ExtraFile {
  /** A plain file name, not one of the data files or manifest.json. */
  name: string;
  /** Text (written as UTF-8) or bytes. */
  chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;
}

export interface WriteDatasetOptions {
  /** Replace an existing non-empty folder. @default false */
  overwrite?: boolean;
}

async function writeChunks(file: string, chunks: ExtraFile['chunks']): Promise<FileEntry> {
  const out = await HashedFile.create(file);
  for await (const chunk of chunks) await out.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return out.close();
}

/** Extra file names must be new plain names: no folder, no clash with the data files or the manifest. */
function checkExtraNames(target: string, extra: ReadonlyArray<ExtraFile>): void {
  const taken = new Set<string>([...DATA_FILES, MANIFEST_FILE]);
  for (const f of extra) {
    if (!/^[A-Za-z0-9._-]+$/.test(f.name) || f.name.startsWith('.') || taken.has(f.name)) {
      throw new RangeError(`${target}: extra file name ${JSON.stringify(f.name)} is not a new plain file name`);
    }
    taken.add(f.name);
  }
}

async function writeJsonl(file: string, rows: Iterable<unknown>): Promise<FileEntry> {
  const out = await HashedFile.create(file);
  for (const row of rows) await out.write(Buffer.from(JSON.stringify(row) + '\n', 'utf8'));
  return out.close();
}

function* documentRows(docs: DocumentList): Generator<unknown> {
  for (const d of docs.all()) yield { docid: d.docid, text: d.text, source_ids: d.sourceIds };
}

/**
 * Checks docids (valid, unique) and that queries name existing documents; errors say which. The docids
 * are indexed by hash (17-34 bytes per document) and read back from `documents`, not copied into a Set.
 */
function checkContent(target: string, c: DatasetContent): void {
  const docs = c.documents;
  const index = new StringHashIndex((d) => docs.docid(d));
  for (let d = 0; d < docs.count; d++) {
    const docid = docs.docid(d);
    const problem = docidProblem(c.info.docid_scheme, docid);
    if (problem !== undefined) throw new InputError(join(target, DOCUMENTS_FILE), d + 1, 'docid', problem);
    if (index.get(docid) >= 0) throw new InputError(join(target, DOCUMENTS_FILE), d + 1, 'docid', `duplicate docid ${docid}`);
    index.add(docid, d);
  }
  const qids = new Set<string>();
  c.queries.forEach((q, i) => {
    if (qids.has(q.qid)) throw new InputError(join(target, QUERIES_FILE), i + 1, 'qid', `duplicate qid ${q.qid}`);
    qids.add(q.qid);
    for (const d of q.docids) {
      if (index.get(d) < 0) throw new InputError(join(target, QUERIES_FILE), i + 1, 'docids', `docid ${d} names no document`);
    }
  });
}

/**
 * Puts prewritten example files into `tmp` as hard links (same file system: both are beside the
 * target), so the originals stay whole until the folder is published; a copy where links are refused.
 * Sizes are checked against what was recorded when they were written.
 */
async function linkExamples(pre: PrewrittenExamples, tmp: string): Promise<WrittenExamples> {
  for (const [name, entry] of [[EXAMPLES_BIN_FILE, pre.written.bin], [EXAMPLES_IDX_FILE, pre.written.idx]] as const) {
    const from = join(pre.dir, name);
    const size = (await stat(from)).size;
    if (size !== entry.bytes) throw new InputError(from, undefined, undefined, `${size} bytes, ${entry.bytes} were written`);
    await link(from, join(tmp, name)).catch(() => copyFile(from, join(tmp, name)));
  }
  return pre.written;
}

/** Fsyncs a folder so that a rename inside it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try { await h.sync(); } finally { await h.close(); }
}

/** 'absent', 'empty' or 'full' for the target folder; a file in its place is an error. */
async function targetState(target: string): Promise<'absent' | 'empty' | 'full'> {
  const info = await stat(target).catch(() => undefined);
  if (info === undefined) return 'absent';
  if (!info.isDirectory()) throw new InputError(target, undefined, undefined, 'exists and is not a folder: choose another output path');
  return (await readdir(target)).length === 0 ? 'empty' : 'full';
}

/** `PID-STAMP` of this process and moment: names the hidden folders of one run. */
function runStamp(): string {
  return `${process.pid}-${Date.now().toString(36)}`;
}

/** What recoverInterrupted did with a folder left by a dead process. */
export interface Recovered {
  action: 'published' | 'restored' | 'removed';
  path: string;
}

/** True unless `pid` names no process (ESRCH); this process counts as alive: its folders are in use. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Cleans up after prepare runs for `dir` that were killed: for each dead run (newest first) whose
 * target is missing, a complete tmp folder (it has manifest.json, written last) is published, else the
 * folder it was replacing (old) is put back; every other folder of a dead run is deleted.
 */
export async function recoverInterrupted(dir: string): Promise<Recovered[]> {
  const target = resolve(dir);
  const parent = dirname(target);
  const name = basename(target);
  const left = new Map<string, Map<string, string>>(); // stamp -> kind -> path
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const m = /^\.(.+)\.(tmp|old|work)-(\d+)-([0-9a-z]+)$/.exec(entry);
    if (m === null || m[1] !== name || alive(Number(m[3]))) continue;
    const stamp = `${m[3]}-${m[4]}`;
    const kinds = left.get(stamp) ?? new Map<string, string>();
    kinds.set(m[2] as string, join(parent, entry));
    left.set(stamp, kinds);
  }
  const done: Recovered[] = [];
  const newestFirst = [...left].sort(([a], [b]) => parseInt(b.split('-')[1] ?? '0', 36) - parseInt(a.split('-')[1] ?? '0', 36));
  for (const [, kinds] of newestFirst) {
    if ((await targetState(target)) === 'absent') {
      const tmp = kinds.get('tmp');
      const old = kinds.get('old');
      if (tmp !== undefined && (await stat(join(tmp, MANIFEST_FILE)).catch(() => undefined)) !== undefined) {
        await rename(tmp, target);
        kinds.delete('tmp');
        done.push({ action: 'published', path: tmp });
      } else if (old !== undefined) {
        await rename(old, target);
        kinds.delete('old');
        done.push({ action: 'restored', path: old });
      }
    }
    for (const path of kinds.values()) {
      await rm(path, { recursive: true, force: true });
      done.push({ action: 'removed', path });
    }
  }
  if (done.length > 0) await syncDir(parent);
  return done;
}

/**
 * Writes `content` as a prepared dataset at `dir` and returns its manifest. Refuses a non-empty
 * existing `dir` unless `overwrite` is set.
 */
export async function writePreparedDataset(dir: string, content: DatasetContent, options: WriteDatasetOptions = {}): Promise<DatasetManifest> {
  const target = resolve(dir);
  if ((await targetState(target)) === 'full' && options.overwrite !== true) {
    throw new InputError(target, undefined, undefined, 'folder exists and is not empty: pass overwrite to replace it');
  }
  checkContent(target, content);
  checkExtraNames(target, content.extraFiles ?? []);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const stamp = runStamp();
  const tmp = join(parent, `.${basename(target)}.tmp-${stamp}`);
  await mkdir(tmp);
  try {
    // 1) data files
    const documents = await writeJsonl(join(tmp, DOCUMENTS_FILE), documentRows(content.documents));
    const queries = await writeJsonl(join(tmp, QUERIES_FILE),
      content.queries.map((q) => ({ qid: q.qid, query: q.query, docids: q.docids, split: q.split })));
    const examples = Symbol.iterator in content.examples
      ? await writeExamples(tmp, content.examples)
      : await linkExamples(content.examples, tmp);
    const extra: Record<string, FileEntry> = {};
    for (const f of content.extraFiles ?? []) extra[f.name] = await writeChunks(join(tmp, f.name), f.chunks);
    // 2) the manifest, last: a folder with a manifest is complete
    const manifest: DatasetManifest = {
      format: DATASET_FORMAT, version: DATASET_VERSION, ...content.info,
      counts: {
        documents: content.documents.count, train_examples: examples.count,
        eval_queries: content.queries.filter((q) => q.split === 'eval').length,
        train_queries: content.queries.filter((q) => q.split === 'train').length,
      },
      files: {
        [DOCUMENTS_FILE]: documents, [QUERIES_FILE]: queries,
        [EXAMPLES_BIN_FILE]: examples.bin, [EXAMPLES_IDX_FILE]: examples.idx, ...extra,
      },
      model_vocab_size: modelVocabSize(content.info.docid_scheme, content.documents.count),
      ...(content.pipeline ? { pipeline: content.pipeline() } : {}),
    };
    const m = await HashedFile.create(join(tmp, MANIFEST_FILE));
    await m.write(Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8'));
    await m.close();
    await syncDir(tmp);
    // 3) publish: move an existing folder aside (re-checked: it may have changed meanwhile), rename, drop the old one
    const state = await targetState(target);
    const old = join(parent, `.${basename(target)}.old-${stamp}`);
    if (state === 'full') {
      if (options.overwrite !== true) throw new InputError(target, undefined, undefined, 'folder exists and is not empty: pass overwrite to replace it');
      await rename(target, old);
    } else if (state === 'empty') {
      await rmdir(target);
    }
    await rename(tmp, target);
    await syncDir(parent);
    if (state === 'full') await rm(old, { recursive: true, force: true });
    return manifest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
