/**
 * The stages of `prepare` whose results outlive them, each run through WorkDir.stage (work_dir.ts):
 * done once, checkpointed with what the later stages need, and on a resumed run restored from its
 * files instead of being done again:
 *   read      the document store's spills and columns, the queries (corpus.queries.jsonl), the counts
 *   docids    semantic: docids.txt (naive and atomic are recomputed: a seeded permutation, the index)
 *   augment   the augmented texts' and pseudo-queries' stores
 *   bm25      the TREC run of the held-out queries (bm25.eval.trec) and its metrics
 *   examples  examples.bin and examples.idx, checkpointed every `checkpointExamples` examples inside
 *             the stage too (examples-progress): a resumed run cuts the files back there and goes on
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../../runtime/errors.js';
import { mixSeed } from '../../runtime/random.js';
import type { RetrievalMetrics } from '../retrieval/metrics.js';
import { loadStopwords } from '../augment/augment_stopwords.js';
import { Doc2QueryGenerator, KeyPhraseQueryGenerator, type PseudoQueryGenerator } from '../augment/pseudo_queries.js';
import { atomicDocidTable, naiveDocidTable, packedDocidTableFromLines, type DocidTable } from '../docids/docids.js';
import { examplesBodyFile, ExampleFiles, type ExamplesProgress, type WrittenExamples } from '../examples_writer.js';
import { EXAMPLES_BIN_FILE, type JsonValue, type Query } from '../format.js';
import { HashedFile } from '../hashed_file.js';
import type { BadInputPolicy, SourceFile } from '../sources/lines.js';
import type { Source } from '../sources/source.js';
import { DocTextStore, type SavedDocTexts } from '../store/doc_texts.js';
import { DocumentStore, type SavedDocumentStore } from '../store/document_store.js';
import { runAugmentations, type AugmentationStep } from './augment.js';
import { assignDocids } from './assign_docids.js';
import { Bm25Run } from './bm25_run.js';
import { collectCorpus, type CorpusCounts, type CorpusQuery } from './corpus.js';
import { generateExamples, type ExamplePlan, type ExampleCounts } from './examples.js';
import type { PrepareOptions } from './prepare.js';
import type { Stages } from './progress.js';
import type { WorkDir } from './work_dir.js';

/** The augmentation name of pseudo-queries in augmented.jsonl. */
const PSEUDO_QUERY_KIND = 'pseudo-query';
const QUERIES_FILE = 'corpus.queries.jsonl';
const DOCIDS_FILE = 'docids.txt';
const BM25_FILE = 'bm25.eval.trec';
/** Examples between checkpoints inside the examples stage, unless the options say otherwise. */
export const DEFAULT_CHECKPOINT_EXAMPLES = 200_000;

export interface ReadResult {
  docs: DocumentStore;
  queries: CorpusQuery[];
  counts: CorpusCounts;
  /** The source's unused counts (for the manifest). */
  unused: Record<string, number>;
}

interface SavedRead {
  store: SavedDocumentStore;
  queries: number;
  counts: CorpusCounts;
  unused: Record<string, number>;
  files: SourceFile[];
  bad: ReturnType<BadInputPolicy['report']>;
}

/** 1) read: the source into a document store in the work folder. */
export async function readStage(work: WorkDir, o: PrepareOptions, source: Source, bad: BadInputPolicy, stages: Stages): Promise<ReadResult> {
  return work.stage<ReadResult, SavedRead>('read', stages, async (saved) => {
    const queries = await readQueries(join(work.dir, QUERIES_FILE), saved.queries);
    const docs = DocumentStore.reopen(work.dir, saved.store);
    // the sha256 of each input was computed while it was read: the manifest records it
    for (const f of source.files) f.sha256 = saved.files.find((s) => s.role === f.role && s.path === f.path)?.sha256 ?? f.sha256;
    bad.restore(saved.bad);
    return { docs, queries, counts: saved.counts, unused: saved.unused };
  }, async () => {
    const corpus = await collectCorpus(source, bad, stages, work.dir);
    if (corpus.docs.count === 0) {
      corpus.docs.close();
      throw new ConfigError('prepare.input', `${o.input}: no passages were read (${bad.skipped} bad records skipped)`);
    }
    await writeLines(join(work.dir, QUERIES_FILE), corpus.queries.map((q) => JSON.stringify(q) + '\n'));
    const unused = { ...source.unused };
    const data: SavedRead = { store: corpus.docs.save(), queries: corpus.queries.length, counts: corpus.counts, unused, files: source.files.map((f) => ({ ...f })), bad: bad.report() };
    return { value: { ...corpus, unused }, data };
  });
}

/** 3) docids; semantic ones are saved (hours of embedding at full scale), the others recomputed. */
export async function docidStage(work: WorkDir, o: PrepareOptions, docs: DocumentStore, stages: Stages): Promise<{ docids: DocidTable; info: { [key: string]: JsonValue } }> {
  const file = join(work.dir, DOCIDS_FILE);
  return work.stage('docids', stages, (info: { [key: string]: JsonValue }) => {
    if (o.scheme === 'naive') return { docids: naiveDocidTable(docs.count, o.seed), info };
    if (o.scheme === 'atomic') return { docids: atomicDocidTable(docs.count), info };
    const docids = packedDocidTableFromLines(readFileSync(file));
    if (docids.count !== docs.count) throw new Error(`${file}: ${docids.count} docids for ${docs.count} documents`);
    return { docids, info };
  }, async () => {
    const r = await assignDocids(docs, o.scheme, {
      seed: o.seed, embedderModel: o.embedderModel, k: o.semanticK, maxLeaf: o.semanticMaxLeaf,
      fitSample: o.semanticFitSample, kmeansSample: o.semanticKmeansSample, workDir: work.dir, stages,
    });
    if (o.scheme === 'semantic') await writeLines(file, docidLines(r.docids));
    return { value: r, data: r.info };
  });
}

export interface AugmentResult {
  augmented: DocTextStore;
  pseudo: DocTextStore;
  report: JsonValue[];
  pseudoInfo: { [key: string]: JsonValue } | undefined;
}

interface SavedAugment {
  augmented: SavedDocTexts;
  pseudo: SavedDocTexts;
  report: JsonValue[];
  pseudoInfo: { [key: string]: JsonValue } | null;
}

/** 4) the --augment corpora, then --pseudo-queries per document, into stores in the work folder. */
export async function augmentStage(work: WorkDir, o: PrepareOptions, docs: DocumentStore, chains: AugmentationStep[][], stages: Stages): Promise<AugmentResult> {
  return work.stage<AugmentResult, SavedAugment>('augment', stages, (saved) => {
    const augmented = new DocTextStore(work.dir, 'augmented.text', saved.augmented);
    const pseudo = new DocTextStore(work.dir, 'pseudo-queries.text', saved.pseudo);
    return { augmented, pseudo, report: saved.report, pseudoInfo: saved.pseudoInfo ?? undefined };
  }, async () => {
    const stopwords = await loadStopwords();
    const augmented = new DocTextStore(work.dir, 'augmented.text');
    const pseudo = new DocTextStore(work.dir, 'pseudo-queries.text');
    const report = await runAugmentations(docs, chains, augmented, {
      seed: o.seed, posMlmShare: o.posMlmShare, mlmModel: o.mlmModel, stopwords, stages, workDir: work.dir,
    });
    const pseudoInfo = await pseudoQueries(docs, stopwords, o, stages, pseudo);
    return { value: { augmented, pseudo, report, pseudoInfo }, data: { augmented: augmented.save(), pseudo: pseudo.save(), report, pseudoInfo: pseudoInfo ?? null } };
  });
}

/** 5) the held-out queries searched in a BM25 index of the documents; the run saved to a file. None when --bm25-top-k is 0. */
export async function bm25Stage(work: WorkDir, o: PrepareOptions, docs: DocumentStore, docids: DocidTable, evalQueries: readonly Query[], stages: Stages): Promise<{ file: string; metrics: RetrievalMetrics } | undefined> {
  const file = join(work.dir, BM25_FILE);
  type Saved = { bytes: number; metrics: RetrievalMetrics } | null;
  const r = await work.stage<{ file: string; metrics: RetrievalMetrics } | null, Saved>('bm25', stages, (saved) => {
    if (saved === null) return null;
    if (statSync(file).size !== saved.bytes) throw new Error(`${file}: not the ${saved.bytes} bytes written`);
    return { file, metrics: saved.metrics };
  }, async () => {
    if (o.bm25TopK === 0) return { value: null, data: null };
    const run = Bm25Run.build(docs, docids, evalQueries, { topK: o.bm25TopK, k1: o.bm25K1, b: o.bm25B }, stages);
    const { bytes } = await writeLines(file, run.lines());
    const metrics = run.metrics();
    return { value: { file, metrics }, data: { bytes, metrics } };
  });
  return r ?? undefined;
}

interface SavedExamples {
  written: WrittenExamples;
  counts: ExampleCounts;
}

/** 6) the examples tokenized into examples.bin/.idx in the work folder, checkpointed every `checkpointExamples`. */
export async function examplesStage(work: WorkDir, o: PrepareOptions, stages: Stages, plan: ExamplePlan): Promise<SavedExamples> {
  return work.stage<SavedExamples, SavedExamples>('examples', stages, (saved) => saved, async () => {
    const every = o.checkpointExamples ?? DEFAULT_CHECKPOINT_EXAMPLES;
    const from = work.read('examples-progress') as { progress: ExamplesProgress; counts: ExampleCounts } | undefined;
    let files: ExampleFiles | undefined;
    if (from !== undefined) {
      files = await ExampleFiles.open(work.dir, from.progress).catch((err: unknown) => {
        work.log.warn({ err: (err as Error).message }, 'examples checkpoint unusable: the examples are written from the start');
        return undefined;
      });
    }
    const counts: ExampleCounts = files !== undefined && from !== undefined
      ? { ...from.counts }
      : { indexing_inputs2targets: 0, indexing_targets2inputs: 0, augmented: 0, pseudo_queries: 0, retrieval: 0 };
    if (files === undefined) {
      await rm(join(work.dir, EXAMPLES_BIN_FILE), { force: true });
      await rm(examplesBodyFile(work.dir), { force: true });
      files = await ExampleFiles.open(work.dir);
    } else {
      work.log.info({ stage: 'examples', fromExample: files.examples }, 'examples resumed from their checkpoint');
    }
    const timer = stages.start('tokenize + write examples', 'examples');
    const start = files.examples;
    try {
      for (const ex of generateExamples(plan, counts, timer, start)) {
        await files.add(ex);
        if (files.examples % every === 0) {
          work.save('examples-progress', { progress: await files.sync(), counts } as unknown as JsonValue);
          work.log.debug({ stage: 'examples', examples: files.examples }, 'examples checkpoint');
        }
      }
    } catch (err) {
      await files.abandon();
      throw err;
    }
    const written = await files.finish();
    timer.end(written.count - start);   // the examples this run wrote: its throughput
    return { value: { written, counts }, data: { written, counts } };
  });
}

/** --pseudo-queries per document into `out`; returns the generator's manifest info (none when off). */
async function pseudoQueries(docs: DocumentStore, stopwords: ReadonlySet<string>, o: PrepareOptions, stages: Stages, out: DocTextStore): Promise<{ [key: string]: JsonValue } | undefined> {
  if (o.pseudoQueries === 0) return undefined;
  const timer = stages.start('pseudo-queries', 'documents', docs.count);
  const generator: PseudoQueryGenerator = o.doc2queryModel === ''
    ? new KeyPhraseQueryGenerator(docs.texts(), stopwords, mixSeed(o.seed, 0x7071))
    : await Doc2QueryGenerator.load(o.doc2queryModel);
  let doc = 0;
  for (const text of docs.texts()) {
    for (const query of await generator.generate(text, doc, o.pseudoQueries)) out.append(doc, PSEUDO_QUERY_KIND, query);
    if (++doc % 1024 === 0) timer.tick(doc);
  }
  timer.end(docs.count);
  return { ...generator.info };
}

export function* docidLines(docids: DocidTable): Generator<string> {
  for (let d = 0; d < docids.count; d++) yield docids.get(d) + '\n';
}

/** Writes `lines` to `file` (replacing it), fsynced. */
async function writeLines(file: string, lines: Iterable<string>): Promise<{ bytes: number }> {
  await rm(file, { force: true });
  const out = await HashedFile.create(file);
  for (const line of lines) await out.write(Buffer.from(line, 'utf8'));
  return out.close();
}

/** The `count` queries saved by the read stage; throws naming the file when it holds another number. */
async function readQueries(file: string, count: number): Promise<CorpusQuery[]> {
  const queries: CorpusQuery[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line !== '') queries.push(JSON.parse(line) as CorpusQuery);
  }
  if (queries.length !== count) throw new Error(`${file}: ${queries.length} queries, ${count} were saved`);
  return queries;
}
