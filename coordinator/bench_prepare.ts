/**
 * `coordinator bench prepare`: the whole prepare pipeline on the bundled sample (1,000 passages) with
 * every stage switched on: semantic docids (TF-IDF + SVD, k-means), the three augmentations and a chain,
 * 3 pseudo-queries per document, bidirectional indexing, BM25 top 1000. Prints documents per second per
 * stage (each stage's own items per second too: records, examples, queries). Never pass/fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { loadT5Tokenizer } from '../shared/tokenizer.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { bundledSampleOptions } from '../shared/dataset/prepare/options.js';
import type { StageRecord } from '../shared/dataset/prepare/progress.js';

/** The benchmarked configuration: every stage of the pipeline. */
const BENCH_AUGMENT = 'stopwords,num2text,pos-mlm,num2text+stopwords';
const BENCH_PSEUDO_QUERIES = 3;

export interface BenchPrepareResult {
  documents: number;
  examples: number;
  total_seconds: number;
  stages: Array<StageRecord & { documents_per_s: number }>;
}

export async function benchPrepare(cfg: Config, log: Logger): Promise<number> {
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
