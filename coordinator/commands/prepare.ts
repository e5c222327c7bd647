/**
 * `coordinator prepare --input PATH --format msmarco-v1.1|msmarco-passage|sample --out DIR [options] [--json]`:
 * raw MS MARCO in, a prepared-dataset folder out (shared/dataset/prepare/prepare.ts). Prints a summary,
 * or with --json the written manifest.
 */
import { describeConfig, hasFlag, loadConfig } from '../../shared/runtime/config.js';
import { openConsole } from '../../shared/runtime/log.js';
import { loadT5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { prepareDataset } from '../../shared/dataset/prepare/prepare.js';
import { prepareOptionsFromConfig } from '../../shared/dataset/prepare/options.js';
import type { DatasetManifest } from '../../shared/dataset/format.js';

const USAGE = `usage: coordinator prepare --input PATH --format msmarco-v1.1|msmarco-passage|sample --out DIR [options] [--json]

  msmarco-v1.1     --input records.jsonl or records.parquet (Hugging Face ms_marco v1.1 rows)
  msmarco-passage  --input collection.tsv --queries queries.tsv --qrels qrels.tsv
  sample           --input joined.jsonl (default: the bundled data/msmarco-sample)

  e.g. --docids semantic --augment stopwords,num2text+pos-mlm --pseudo-queries 3 --indexing bidirectional --skip-bad`;

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`${USAGE}\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  const terminal = openConsole({ level: cfg.runtime.logLevel, format: cfg.runtime.logFormat });
  let manifest: DatasetManifest;
  try {
    const tok = await loadT5Tokenizer();
    manifest = await prepareDataset(prepareOptionsFromConfig(cfg, tok, terminal.log));
  } finally {
    terminal.close();   // the bar's last state stays; the summary goes under it
  }
  process.stdout.write(cfg.runtime.json ? JSON.stringify(manifest) + '\n' : formatManifest(cfg.prepare.out, manifest));
  return 0;
}

function formatManifest(out: string, m: DatasetManifest): string {
  const p = m.pipeline ?? {};
  const bad = p['bad_input'] as { skipped?: number } | undefined;
  const bm25 = p['bm25'] as { hits_at_1?: number; hits_at_10?: number; mrr_at_10?: number } | null | undefined;
  const stages = (p['stages'] as Array<{ stage: string; items: number; unit: string; items_per_s: number }> | undefined) ?? [];
  return [
    `prepared   ${out}`,
    `source     ${m.source.format} ${m.source.path}`,
    `documents  ${m.counts.documents} (${m.docid_scheme} docids)`,
    `queries    ${m.counts.train_queries} train, ${m.counts.eval_queries} held out`,
    `examples   ${m.counts.train_examples}`,
    `bad input  ${bad?.skipped ?? 0} records skipped`,
    ...(bm25 ? [`bm25       Hits@1 ${bm25.hits_at_1?.toFixed(4)}  Hits@10 ${bm25.hits_at_10?.toFixed(4)}  MRR@10 ${bm25.mrr_at_10?.toFixed(4)}`] : []),
    ...stages.map((s) => `  ${s.stage.padEnd(26)} ${String(s.items).padStart(8)} ${s.unit}  ${s.items_per_s.toFixed(1)}/s`),
    '',
  ].join('\n');
}
