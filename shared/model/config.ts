/**
 * T5 configuration: field meanings and defaults as in Hugging Face's T5Config, so a config.json
 * round-trips. Presets t5-small/t5-base have exactly Hugging Face's shapes; t5-tiny is ours.
 */
import { readFileSync, existsSync } from 'node:fs';
import { ModelFormatError } from '../runtime/errors.js';
import type { PresetName } from '../runtime/config.js';

export type FeedForward = 'relu' | 'gated-gelu';

export interface T5Config {
  vocabSize: number;          // rows of the shared embedding (32128 for T5: 32100 pieces padded to a multiple of 128)
  dModel: number;             // D
  dKv: number;                // Kv, per-head size; inner attention size is H * Kv
  dFf: number;                // feed-forward hidden size
  numLayers: number;          // encoder blocks
  numDecoderLayers: number;   // decoder blocks
  numHeads: number;           // H
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  dropoutRate: number;
  layerNormEpsilon: number;
  feedForwardProj: FeedForward; // 'relu' is T5 v1.0, 'gated-gelu' is T5 v1.1
  tieWordEmbeddings: boolean;   // true: lm_head = shared embedding, decoder output scaled by D^-0.5
  padTokenId: number;
  eosTokenId: number;
  decoderStartTokenId: number;
}

const T5_VOCAB = 32128;

const BASE: Omit<T5Config, 'dModel' | 'dKv' | 'dFf' | 'numLayers' | 'numDecoderLayers' | 'numHeads'> = {
  vocabSize: T5_VOCAB,
  relativeAttentionNumBuckets: 32,
  relativeAttentionMaxDistance: 128,
  dropoutRate: 0.1,
  layerNormEpsilon: 1e-6,
  feedForwardProj: 'relu',
  tieWordEmbeddings: true,
  padTokenId: 0,
  eosTokenId: 1,
  decoderStartTokenId: 0,
};

export const PRESET_CONFIGS: Record<PresetName, T5Config> = {
  // Small enough for one CPU core (tests, the bundled demo); the 32128-row embedding dominates its 4.5M parameters.
  't5-tiny': { ...BASE, dModel: 128, dKv: 32, dFf: 512, numLayers: 2, numDecoderLayers: 2, numHeads: 4, dropoutRate: 0 },
  't5-small': { ...BASE, dModel: 512, dKv: 64, dFf: 2048, numLayers: 6, numDecoderLayers: 6, numHeads: 8 },
  't5-base': { ...BASE, dModel: 768, dKv: 64, dFf: 3072, numLayers: 12, numDecoderLayers: 12, numHeads: 12 },
};

/** Hugging Face config.json keys <-> ours. */
const HF_KEYS: Array<[keyof T5Config, string]> = [
  ['vocabSize', 'vocab_size'], ['dModel', 'd_model'], ['dKv', 'd_kv'], ['dFf', 'd_ff'],
  ['numLayers', 'num_layers'], ['numDecoderLayers', 'num_decoder_layers'], ['numHeads', 'num_heads'],
  ['relativeAttentionNumBuckets', 'relative_attention_num_buckets'],
  ['relativeAttentionMaxDistance', 'relative_attention_max_distance'],
  ['dropoutRate', 'dropout_rate'], ['layerNormEpsilon', 'layer_norm_epsilon'],
  ['feedForwardProj', 'feed_forward_proj'], ['tieWordEmbeddings', 'tie_word_embeddings'],
  ['padTokenId', 'pad_token_id'], ['eosTokenId', 'eos_token_id'], ['decoderStartTokenId', 'decoder_start_token_id'],
];

/** Parses a Hugging Face T5 config.json; every missing or wrong field is named. */
export function readHfConfig(file: string): T5Config {
  if (!existsSync(file)) throw new ModelFormatError(file, 'config.json is missing (a Hugging Face T5 folder needs config.json and model.safetensors)');
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
    throw new ModelFormatError(file, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!raw || typeof raw !== 'object') throw new ModelFormatError(file, 'expected a JSON object');
  return hfToConfig(raw as Record<string, unknown>, file);
}

export function hfToConfig(hf: Record<string, unknown>, file: string): T5Config {
  const modelType = hf['model_type'];
  if (modelType !== undefined && modelType !== 't5')
    throw new ModelFormatError(file, `field 'model_type' is ${JSON.stringify(modelType)}, expected "t5"`);
  const out: Record<string, unknown> = { ...BASE };
  for (const [ours, theirs] of HF_KEYS) {
    const v = hf[theirs];
    if (v === undefined || v === null) continue;
    out[ours] = v;
  }
  // Hugging Face: num_decoder_layers defaults to num_layers; gated-gelu may be written as 'gated-gelu' or 'gated-gelu_new'
  if (hf['num_decoder_layers'] === undefined || hf['num_decoder_layers'] === null) out['numDecoderLayers'] = out['numLayers'];
  const ff = String(out['feedForwardProj']);
  if (ff === 'gated-gelu' || ff === 'gated-gelu_new') out['feedForwardProj'] = 'gated-gelu';
  else if (ff !== 'relu') throw new ModelFormatError(file, `field 'feed_forward_proj' is "${ff}", supported: "relu", "gated-gelu"`);
  for (const [ours, theirs] of HF_KEYS) {
    if (ours === 'feedForwardProj' || ours === 'tieWordEmbeddings') continue;
    const v = out[ours];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(file, `field '${theirs}' must be a number, got ${JSON.stringify(v)}`);
    if (ours !== 'dropoutRate' && ours !== 'layerNormEpsilon' && (!Number.isInteger(v) || v < 0))
      throw new ModelFormatError(file, `field '${theirs}' must be a non-negative integer, got ${v}`);
  }
  if (typeof out['tieWordEmbeddings'] !== 'boolean') throw new ModelFormatError(file, `field 'tie_word_embeddings' must be true or false`);
  return out as unknown as T5Config;
}

/** The config.json we write: Hugging Face's keys, so `T5ForConditionalGeneration.from_pretrained` opens it. */
export function configToHf(c: T5Config): Record<string, unknown> {
  const hf: Record<string, unknown> = {
    architectures: ['T5ForConditionalGeneration'], model_type: 't5', is_encoder_decoder: true,
    dense_act_fn: c.feedForwardProj === 'relu' ? 'relu' : 'gelu_new', is_gated_act: c.feedForwardProj !== 'relu',
    initializer_factor: 1.0, use_cache: true,
  };
  for (const [ours, theirs] of HF_KEYS) hf[theirs] = c[ours];
  return hf;
}

/** A stable fingerprint of the shapes: workers with a different model are refused at join. */
export function configFingerprint(c: T5Config): string {
  return JSON.stringify(HF_KEYS.filter(([k]) => k !== 'dropoutRate').map(([k]) => c[k]));
}
