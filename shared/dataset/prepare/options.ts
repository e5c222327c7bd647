/** PrepareOptions from the one config schema: for `coordinator prepare`, and for the bundled sample that `start` prepares. */
import type { Config } from '../../runtime/config.js';
import type { Logger } from '../../runtime/log.js';
import { SAMPLE_JSONL } from '../../runtime/paths.js';
import type { T5Tokenizer } from '../tokenizer.js';
import type { PrepareOptions } from './prepare.js';

/** Every option as configured (flags, env, --config file); `--format sample` without --input reads the bundled sample. */
export function prepareOptionsFromConfig(cfg: Config, tokenizer: T5Tokenizer, log: Logger): PrepareOptions {
  const p = cfg.prepare;
  return {
    format: p.format, input: p.input || (p.format === 'sample' ? SAMPLE_JSONL : ''), queries: p.queries, qrels: p.qrels, out: p.out,
    scheme: cfg.data.scheme, seed: cfg.runtime.seed, evalFraction: p.evalFraction, maxInputTokens: cfg.data.maxInputTokens, lowercase: cfg.data.lowercase,
    indexing: p.indexing, augment: p.augment, posMlmShare: p.posMlmShare, mlmModel: p.mlmModel,
    pseudoQueries: p.pseudoQueries, doc2queryModel: p.doc2queryModel, embedderModel: p.embedderModel,
    semanticK: p.semanticK, semanticMaxLeaf: p.semanticMaxLeaf, semanticFitSample: p.semanticFitSample, semanticKmeansSample: p.semanticKmeansSample,
    bm25TopK: p.bm25TopK, bm25K1: p.bm25K1, bm25B: p.bm25B, skipBad: p.skipBad, overwrite: p.overwrite, checkpointExamples: p.checkpointExamples,
    tokenizer, log,
  };
}

/**
 * The bundled sample as `start` prepares it when no --data is given: the plain corpus (no augmentation,
 * no pseudo-queries, document -> docid indexing), so that its cached folder depends only on the
 * docid scheme, the seed and the input length named in its folder name.
 */
export function bundledSampleOptions(cfg: Config, out: string, tokenizer: T5Tokenizer, log: Logger): PrepareOptions {
  return {
    ...prepareOptionsFromConfig(cfg, tokenizer, log),
    format: 'sample', input: SAMPLE_JSONL, queries: '', qrels: '', out,
    indexing: 'inputs2targets', augment: '', pseudoQueries: 0, evalFraction: DEFAULT_SAMPLE_EVAL_FRACTION, skipBad: false, overwrite: false,
  };
}

/** The bundled sample's held-out share: 200 of its 1,000 queries (as the former sample preparer held out, so cached folders stay valid). */
const DEFAULT_SAMPLE_EVAL_FRACTION = 0.2;
