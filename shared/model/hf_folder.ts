/**
 * Model folders in Hugging Face's format (config.json + model.safetensors with HF names and
 * layouts), so a model trained here opens in transformers and a pretrained T5 can be fine-tuned
 * here. Training checkpoints (shared/training/checkpoint.ts) add the optimizer state to such a folder.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ModelFormatError } from '../runtime/errors.js';
import { configToHf, readHfConfig, type T5Config } from './config.js';
import { t5ParamLayout, transpose2d, type ParamLayout } from './params.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';
import { Rng } from '../runtime/random.js';
import { writeFileDurable } from '../runtime/durable_files.js';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

/** Names under which Hugging Face checkpoints may hold the (tied) shared embedding. */
const SHARED_ALIASES = ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];

/** The parameters as Hugging Face tensors: (out, in) Linear weights, float32. */
export function hfTensors(layout: ParamLayout, params: Float32Array): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const s of layout.specs) {
    const view = params.subarray(s.offset, s.offset + s.size);
    const data = s.transposed ? transpose2d(view, s.shape[0] as number, s.shape[1] as number) : Float32Array.from(view);
    out.set(s.name, { dtype: 'F32', shape: s.hfShape, data });
  }
  return out;
}

/** Writes config.json + model.safetensors (metadata format "pt", which transformers requires). */
export async function saveHfModel(dir: string, config: T5Config, layout: ParamLayout, params: Float32Array): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeSafetensors(path.join(dir, MODEL_FILE), hfTensors(layout, params), { format: 'pt' });
  writeFileDurable(path.join(dir, CONFIG_FILE), JSON.stringify(configToHf(config), null, 2) + '\n');
}

export interface LoadedModel {
  config: T5Config;
  layout: ParamLayout;
  params: Float32Array;
}

export interface LoadHfOptions {
  /** Grow the vocabulary to at least this many rows (atomic docids); new rows drawn N(0, 1) with `seed`. */
  minVocabSize?: number;
  seed?: number;
}

/** Reads a Hugging Face T5 folder; every missing, misshapen or unknown tensor is named. */
export async function loadHfModel(dir: string, o: LoadHfOptions = {}): Promise<LoadedModel> {
  if (!existsSync(dir)) throw new ModelFormatError(dir, 'model folder does not exist');
  const fileConfig = readHfConfig(path.join(dir, CONFIG_FILE));
  const file = path.join(dir, MODEL_FILE);
  if (!existsSync(file)) throw new ModelFormatError(file, `${MODEL_FILE} is missing (a Hugging Face T5 folder needs config.json and model.safetensors)`);
  const { tensors } = await readSafetensors(file);
  const vocab = Math.max(fileConfig.vocabSize, o.minVocabSize ?? 0);
  const config: T5Config = { ...fileConfig, vocabSize: vocab };
  const layout = t5ParamLayout(config);
  const params = new Float32Array(layout.total);
  const used = new Set<string>();
  for (const s of layout.specs) {
    const names = s.name === 'shared.weight' ? SHARED_ALIASES : [s.name];
    const name = names.find((n) => tensors.has(n));
    const t = name === undefined ? undefined : tensors.get(name);
    if (!t || name === undefined) throw new ModelFormatError(file, `tensor '${s.name}' is missing (config.json describes ${fileConfig.numLayers}+${fileConfig.numDecoderLayers} layers, ${fileConfig.feedForwardProj})`);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new ModelFormatError(file, `tensor '${name}' has dtype ${t.dtype}, expected a float type`);
    used.add(name);
    const isVocab = s.name === 'shared.weight' || s.name === 'lm_head.weight';
    const fileShape = isVocab ? [fileConfig.vocabSize, s.hfShape[1] as number] : s.hfShape;
    if (t.shape.length !== fileShape.length || t.shape.some((d, i) => d !== fileShape[i]))
      throw new ModelFormatError(file, `tensor '${name}' has shape [${t.shape.join(', ')}], config.json implies [${fileShape.join(', ')}]`);
    const dst = params.subarray(s.offset, s.offset + s.size);
    if (s.transposed) dst.set(transpose2d(t.data, s.hfShape[0] as number, s.hfShape[1] as number));
    else dst.set(t.data);
    if (isVocab && vocab > fileConfig.vocabSize) {
      const rng = new Rng(o.seed ?? 0);
      // new rows start like Hugging Face's resize_token_embeddings (N(0, 1) for T5)
      for (let i = t.data.length; i < dst.length; i++) dst[i] = rng.nextNormal();
    }
  }
  // tied checkpoints may also carry lm_head.weight and the embed_tokens copies; anything else is a different model
  for (const name of tensors.keys()) {
    if (used.has(name) || SHARED_ALIASES.includes(name) || (config.tieWordEmbeddings && name === 'lm_head.weight')) continue;
    throw new ModelFormatError(file, `unexpected tensor '${name}': not part of a T5 with this config.json`);
  }
  return { config, layout, params };
}
