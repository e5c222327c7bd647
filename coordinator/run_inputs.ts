/** Where a run lives and what it reads: its folder, and the prepared dataset (the bundled sample by default). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../shared/runtime/config.js';
import type { Logger } from '../shared/runtime/log.js';
import type { T5Tokenizer } from '../shared/dataset/tokenizer.js';
import { openPreparedDataset, type PreparedDataset } from '../shared/dataset/reader.js';
import { prepareDataset } from '../shared/dataset/prepare/prepare.js';
import { bundledSampleOptions } from '../shared/dataset/prepare/options.js';
import { REPO_ROOT, SAMPLE_JSONL } from '../shared/runtime/paths.js';

/** The run folder: the configured one, else runs/<UTC timestamp> (never an existing run's). */
export function resolveRunDir(cfg: Config): string {
  if (cfg.run.dir) return path.resolve(cfg.run.dir);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return path.join(REPO_ROOT, 'runs', stamp);
}

/** The prepared dataset: the configured folder, or the bundled sample prepared once into runs/prepared/. */
export async function resolveDataset(cfg: Config, tok: T5Tokenizer, log: Logger): Promise<PreparedDataset> {
  let dir = cfg.data.dir ? path.resolve(cfg.data.dir) : '';
  if (!dir) {
    // v2: with sampling.bin; -lc: lower-cased (folders of other settings are other folders)
    const name = `msmarco-sample-v2-${cfg.data.scheme}-seed${cfg.runtime.seed}-max${cfg.data.maxInputTokens}${cfg.data.lowercase ? '-lc' : ''}`;
    dir = path.join(REPO_ROOT, 'runs', 'prepared', name);
    if (!existsSync(path.join(dir, 'manifest.json'))) {
      log.info({ input: SAMPLE_JSONL, out: dir, scheme: cfg.data.scheme }, 'preparing the bundled MS MARCO sample');
      await prepareDataset(bundledSampleOptions(cfg, dir, tok, log)); // the same path as `coordinator prepare`
    }
  }
  return openPreparedDataset(dir);
}
