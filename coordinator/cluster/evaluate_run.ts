/** Evaluation of a run's final state on held-out queries: metrics and a TREC run file. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { PreparedDataset } from '../../shared/dataset/reader.js';
import type { T5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { evaluateModel, retrievalModelOf } from '../../shared/training/dsi_retrieval.js';
import type { RetrievalMetrics } from '../../shared/dataset/retrieval/metrics.js';
import { currentWeights, releaseWeights, type TrainingSetup } from '../../shared/training/setup.js';

export type EvalSummary = RetrievalMetrics & { split: string; beam_size: number; trec_run: string };

const PROGRESS_EVERY_QUERIES = 50;

export async function evaluateRun(
  cfg: Config, setup: TrainingSetup, data: PreparedDataset, tok: T5Tokenizer, runDir: string, log: Logger, tag = '',
): Promise<EvalSummary> {
  const weights = currentWeights(setup);
  try {
    let queries = data.queries(cfg.eval.split);
    if (cfg.eval.maxQueries > 0) queries = queries.slice(0, cfg.eval.maxQueries);
    const trecRun = path.join(runDir, 'eval', `run.${cfg.eval.split}${tag ? `.${tag}` : ''}.trec`);
    mkdirSync(path.dirname(trecRun), { recursive: true });
    let lastReport = 0;
    const r = await evaluateModel(
      { ...retrievalModelOf(cfg, data, setup.model, weights) }, tok, queries,
      {
        beamSize: cfg.eval.beamSize, maxInputTokens: data.manifest.max_input_tokens, lowercase: data.manifest.lowercase === true, trecRunFile: trecRun, runTag: 'dsi',
        onProgress: (done, total) => {
          if (done - lastReport >= PROGRESS_EVERY_QUERIES || done === total) { lastReport = done; log.info({ done, total }, 'evaluating'); }
        },
      },
    );
    return { ...r.metrics, split: cfg.eval.split, beam_size: cfg.eval.beamSize, trec_run: trecRun };
  } finally {
    releaseWeights(setup, weights);
  }
}
