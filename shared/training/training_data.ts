/**
 * What a run trains on, decided once from the configuration and the prepared dataset, the same way in
 * every worker and in the coordinator's evaluation: the example source (sampler.ts) and the decoder's
 * output rows (the docid tokens, or the whole vocabulary).
 */
import type { Config } from '../runtime/config.js';
import { ConfigError } from '../runtime/errors.js';
import type { PreparedDataset } from '../dataset/reader.js';
import { OutputVocabulary } from '../model/grads.js';
import { MixSampler, PreparedOrder, formatMix, parseMix, type ExampleSource } from './sampler.js';

/** The mix of `--mix auto` on a dataset with sampling.bin (what the calibration found to teach retrieval; README). */
export const DEFAULT_MIX = 'documents:1,spans:4,terms:2,queries:1';

export interface TrainingData {
  source: ExampleSource;
  /** The mix in force ("prepared": the prepared examples in seeded epochs). */
  mix: string;
}

export function trainingData(cfg: Config, data: PreparedDataset): TrainingData {
  const t = cfg.train;
  if (t.mix === 'auto' && data.sampling() === undefined) return { source: new PreparedOrder(data, cfg.runtime.seed), mix: 'prepared' };
  if (t.mix === 'prepared') return { source: new PreparedOrder(data, cfg.runtime.seed), mix: 'prepared' };
  if (t.spanMinTokens > t.spanMaxTokens) throw new ConfigError('train.spanMinTokens', `${t.spanMinTokens} is above train.spanMaxTokens (${t.spanMaxTokens})`);
  if (t.termsMin > t.termsMax) throw new ConfigError('train.termsMin', `${t.termsMin} is above train.termsMax (${t.termsMax})`);
  const sampler = new MixSampler(data, {
    mix: parseMix(t.mix === 'auto' ? DEFAULT_MIX : t.mix), seed: cfg.runtime.seed,
    spanTokens: { min: t.spanMinTokens, max: t.spanMaxTokens }, termCount: { min: t.termsMin, max: t.termsMax },
    maxInputTokens: data.manifest.max_input_tokens,
  });
  return { source: sampler, mix: formatMix(sampler.mix) };
}

/** The dataset's indexing mode, when its manifest records one (folders of older preparers do not). */
function indexingMode(data: PreparedDataset): string | undefined {
  const options = data.manifest.pipeline?.['options'];
  const mode = options !== null && typeof options === 'object' && !Array.isArray(options) ? options['indexing'] : undefined;
  return typeof mode === 'string' ? mode : undefined;
}

/**
 * The decoder's output rows: the docid tokens and </s> (every token of every docid), or undefined for
 * the whole vocabulary. `auto` restricts when every target is a docid (inputs2targets indexing).
 */
export function decoderOutput(cfg: Config, data: PreparedDataset): OutputVocabulary | undefined {
  const choice = cfg.train.decoderOutput;
  if (choice === 'vocab') return undefined;
  const mode = indexingMode(data);
  if (choice === 'auto' && mode !== 'inputs2targets') return undefined;
  if (mode === 'targets2inputs' || mode === 'bidirectional') {
    throw new ConfigError('train.decoderOutput', `docids: the dataset's ${mode} indexing has text targets, which need the whole vocabulary: use --decoder-output vocab or auto`);
  }
  const ids = new Set<number>();
  for (const seq of data.docidTokens()) for (const tok of seq) ids.add(tok);
  return new OutputVocabulary(Int32Array.from([...ids].sort((a, b) => a - b)), data.manifest.model_vocab_size);
}
