/**
 * `coordinator eval --bm25 --data DIR [--json]`: Hits@1, Hits@10 and MRR@10 of the folder's saved BM25 run
 * on its held-out queries, scored by the same code as the DSI model.
 */
import { describeConfig, hasFlag, loadConfig } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { openPreparedDataset } from '../../shared/dataset/reader.js';
import { evaluateSavedBm25 } from '../../shared/dataset/prepare/bm25_run.js';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator eval --bm25 --data DIR [--json]\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  if (!hasFlag(args, 'bm25')) throw new ConfigError('bm25', 'eval scores the BM25 baseline of a prepared folder: coordinator eval --bm25 --data DIR (a trained model is evaluated by `start`)');
  if (!cfg.data.dir) throw new ConfigError('data.dir', 'give the prepared dataset folder: --data DIR');
  const data = await openPreparedDataset(cfg.data.dir);
  try {
    const r = evaluateSavedBm25(data);
    const out = { data_dir: data.dir, split: 'eval', ...r };
    process.stdout.write(cfg.runtime.json ? JSON.stringify(out) + '\n'
      : `bm25 on ${r.queries} held-out queries (top ${r.top_k ?? r.longest_ranking}): Hits@1 ${r.hits_at_1.toFixed(4)}  Hits@10 ${r.hits_at_10.toFixed(4)}  MRR@10 ${r.mrr_at_10.toFixed(4)}\n`);
  } finally {
    data.close();
  }
  return 0;
}
