/**
 * `coordinator bench prepare`: the whole prepare pipeline on the bundled sample (1,000 passages) with
 * every stage switched on: semantic docids (TF-IDF + SVD, k-means), the three augmentations and a chain,
 * 3 pseudo-queries per document, bidirectional indexing, BM25 top 1000. Prints documents per second per
 * stage (each stage's own items per second too: records, examples, queries). Never pass/fail.
 *
 * `coordinator bench prepare --passages N`: memory at scale. Synthetic msmarco-passage collections of
 * N and 4N passages (synthetic.ts, seeded), each prepared by its own `coordinator prepare` process (a
 * fresh heap, so one run's peak does not hide the other's) with docids from --docids, two augmented
 * corpora, one pseudo-query per document and BM25 top 100. Prints seconds, documents per second and
 * resident memory per stage for both sizes, and the growth of resident memory per added document.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import { loadT5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { prepareDataset } from '../../shared/dataset/prepare/prepare.js';
import { bundledSampleOptions } from '../../shared/dataset/prepare/options.js';
import type { StageRecord } from '../../shared/dataset/prepare/progress.js';
import type { DatasetManifest } from '../../shared/dataset/format.js';
import { writeSyntheticCollection } from '../../shared/dataset/synthetic.js';

/** The benchmarked configuration: every stage of the pipeline. */
const BENCH_AUGMENT = 'stopwords,num2text,pos-mlm,num2text+stopwords';
const BENCH_PSEUDO_QUERIES = 3;

export interface BenchPrepareResult {
  documents: number;
  examples: number;
  total_seconds: number;
  stages: Array<StageRecord & { documents_per_s: number }>;
}

/** The scale benchmark's pipeline: every streaming stage, the augmentation that reads its input twice. */
const SCALE_AUGMENT = 'stopwords,num2text+pos-mlm';
const SCALE_PSEUDO_QUERIES = 1;
const SCALE_BM25_TOP_K = 100;
/** The larger collection is this many times the smaller. */
const SCALE_FACTOR = 4;
const MIB = 2 ** 20;

export async function benchPrepare(cfg: Config, log: Logger, passages?: number): Promise<number> {
  if (passages !== undefined) return benchPrepareScale(cfg, log, passages);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-bench-prepare-'));
  try {
    const tok = await loadT5Tokenizer();
    const t0 = performance.now();
    const m = await prepareDataset({
      ...bundledSampleOptions(cfg, path.join(dir, 'data'), tok, log),
      scheme: 'semantic', augment: BENCH_AUGMENT, pseudoQueries: BENCH_PSEUDO_QUERIES, indexing: 'bidirectional',
    });
    const total = (performance.now() - t0) / 1000;
    const stages = (m.pipeline?.['stages'] ?? []) as unknown as StageRecord[];
    const r: BenchPrepareResult = {
      documents: m.counts.documents, examples: m.counts.train_examples, total_seconds: round(total),
      stages: stages.map((s) => ({ ...s, documents_per_s: round(s.seconds > 0 ? m.counts.documents / s.seconds : 0) })),
    };
    if (cfg.runtime.json) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      process.stdout.write(`prepare on the bundled sample: ${r.documents} documents -> ${r.examples} examples in ${r.total_seconds.toFixed(2)} s\n` +
        r.stages.map((s) => `  ${s.stage.padEnd(28)} ${s.seconds.toFixed(3).padStart(8)} s  ${s.documents_per_s.toFixed(0).padStart(8)} documents/s  (${s.items} ${s.unit}, ${s.items_per_s.toFixed(0)}/s)\n`).join(''));
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export interface ScaleRun {
  passages: number;
  documents: number;
  examples: number;
  seconds: number;
  /** The prepare process's peak resident set, MiB. */
  max_rss_mb: number;
  stages: StageRecord[];
}

export interface BenchPrepareScaleResult {
  pipeline: string;
  runs: [ScaleRun, ScaleRun];
  /** Per stage: (MiB at 4N - at N) / (documents at 4N - at N), in bytes per document: live after GC, and resident. */
  growth: Array<{ stage: string; live_bytes_per_document: number; rss_bytes_per_document: number }>;
  peak_bytes_per_document: number;
}

async function benchPrepareScale(cfg: Config, log: Logger, n: number): Promise<number> {
  if (!Number.isInteger(n) || n < 100) throw new RangeError(`bench prepare: --passages must be an integer >= 100, got ${n}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-bench-prepare-scale-'));
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const pipeline = `docids ${cfg.data.scheme}, augment ${SCALE_AUGMENT}, ${SCALE_PSEUDO_QUERIES} pseudo-query per document, BM25 top ${SCALE_BM25_TOP_K}`;
  try {
    const runs: ScaleRun[] = [];
    for (const passages of [n, SCALE_FACTOR * n]) {
      const files = writeSyntheticCollection({ dir: path.join(dir, `in-${passages}`), passages, seed: cfg.runtime.seed });
      log.info({ passages, duplicates: files.duplicates, queries: files.queryCount }, 'bench prepare: synthetic collection written');
      const t0 = performance.now();
      const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', cli, 'prepare', '--format', 'msmarco-passage',
        '--input', files.collection, '--queries', files.queries, '--qrels', files.qrels, '--out', path.join(dir, `out-${passages}`),
        '--docids', cfg.data.scheme, '--seed', String(cfg.runtime.seed), '--augment', SCALE_AUGMENT, '--pseudo-queries', String(SCALE_PSEUDO_QUERIES),
        '--bm25-top-k', String(SCALE_BM25_TOP_K), '--semantic-fit-sample', String(cfg.prepare.semanticFitSample),
        '--semantic-kmeans-sample', String(cfg.prepare.semanticKmeansSample), '--json'], { maxBuffer: 64 * MIB, env: { ...process.env, DSI_LOG_LEVEL: 'warn' } });
      const seconds = (performance.now() - t0) / 1000;
      const m = JSON.parse(stdout) as DatasetManifest;
      const stages = (m.pipeline?.['stages'] ?? []) as unknown as StageRecord[];
      runs.push({ passages, documents: m.counts.documents, examples: m.counts.train_examples, seconds: round(seconds), max_rss_mb: Math.max(0, ...stages.map((s) => s.max_rss_mb)), stages });
      rmSync(path.join(dir, `out-${passages}`), { recursive: true, force: true });
    }
    const [a, b] = runs as [ScaleRun, ScaleRun];
    const added = b.documents - a.documents;
    const perDoc = (mib: number): number => Math.round((mib * MIB) / added);
    const growth = a.stages.map((s, i) => ({
      stage: s.stage, live_bytes_per_document: perDoc((b.stages[i]?.live_mb ?? 0) - s.live_mb), rss_bytes_per_document: perDoc((b.stages[i]?.rss_mb ?? 0) - s.rss_mb),
    }));
    const r: BenchPrepareScaleResult = { pipeline, runs: [a, b], growth, peak_bytes_per_document: Math.round(((b.max_rss_mb - a.max_rss_mb) * MIB) / added) };
    process.stdout.write(cfg.runtime.json ? JSON.stringify(r) + '\n' : formatScale(r));
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function formatScale(r: BenchPrepareScaleResult): string {
  const [a, b] = r.runs;
  const cell = (s: StageRecord | undefined, docs: number): string =>
    s === undefined ? '' : `${s.seconds.toFixed(2).padStart(7)} s ${(s.seconds > 0 ? docs / s.seconds : 0).toFixed(0).padStart(8)}/s ${s.live_mb.toFixed(0).padStart(5)} ${s.rss_mb.toFixed(0).padStart(5)}`;
  const head = `prepare at scale (${r.pipeline}): synthetic msmarco-passage\n` +
    `  documents/s per stage; memory at each stage's end in MiB: live (heap + array buffers after a full GC) and resident\n` +
    `  ${'stage'.padEnd(26)} ${`N = ${a.passages} (${a.documents} documents)`.padEnd(38)} ${`4N = ${b.passages} (${b.documents} documents)`.padEnd(38)} growth, bytes/document\n` +
    `  ${''.padEnd(26)} ${'seconds    docs/s  live   rss'.padStart(38)} ${'seconds    docs/s  live   rss'.padStart(38)}   live    rss\n`;
  const rows = a.stages.map((s, i) => `  ${s.stage.padEnd(26)} ${cell(s, a.documents).padStart(38)} ${cell(b.stages[i], b.documents).padStart(38)} ${String(r.growth[i]?.live_bytes_per_document ?? 0).padStart(6)} ${String(r.growth[i]?.rss_bytes_per_document ?? 0).padStart(6)}\n`);
  const total = `  ${'whole run, peak RSS'.padEnd(26)} ${`${a.seconds.toFixed(2).padStart(7)} s ${a.max_rss_mb.toFixed(0).padStart(21)}`.padStart(38)} ${`${b.seconds.toFixed(2).padStart(7)} s ${b.max_rss_mb.toFixed(0).padStart(21)}`.padStart(38)} ${''.padStart(6)} ${String(r.peak_bytes_per_document).padStart(6)}\n`;
  return head + rows.join('') + total;
}
