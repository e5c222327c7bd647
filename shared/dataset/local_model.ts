/**
 * Hugging Face models run through @xenova/transformers from a local folder only (ONNX export, as the
 * Xenova/* repositories publish them). Weights are never downloaded: a folder that lacks a file fails
 * here, naming the file, before the library is asked.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { env, pipeline } from '@xenova/transformers';
import { ModelFormatError } from '../runtime/errors.js';

/** The tasks the data pipeline runs and the ONNX graphs each needs (without the `_quantized` suffix). */
const GRAPHS = {
  'feature-extraction': ['model'],
  'fill-mask': ['model'],
  'text2text-generation': ['encoder_model', 'decoder_model_merged'],
} as const;
export type LocalTask = keyof typeof GRAPHS;

const COMMON_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

/** What was checked: the folder, whether the quantized graphs are used, and the files relied on. */
export interface LocalModelFiles {
  dir: string;
  quantized: boolean;
  files: string[];
}

/**
 * Checks that `dir` holds everything `task` needs: config, tokenizer and the ONNX graphs, quantized
 * (`onnx/NAME_quantized.onnx`) or not (`onnx/NAME.onnx`). Throws ModelFormatError naming the first
 * missing file.
 */
export function checkLocalModel(dir: string, task: LocalTask, purpose: string): LocalModelFiles {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new ModelFormatError(root, `no such model folder for ${purpose}: weights cannot be downloaded here; give a local ONNX export (config.json, tokenizer.json, onnx/*.onnx) or leave the option empty for the offline method`);
  }
  for (const f of COMMON_FILES) {
    if (!existsSync(join(root, f))) throw new ModelFormatError(join(root, f), `missing: ${purpose} needs this file of the model folder (weights cannot be downloaded here)`);
  }
  const graphs = GRAPHS[task];
  const quantized = graphs.every((g) => existsSync(join(root, 'onnx', `${g}_quantized.onnx`)));
  const files = graphs.map((g) => join('onnx', `${g}${quantized ? '_quantized' : ''}.onnx`));
  for (const f of files) {
    if (!existsSync(join(root, f))) {
      throw new ModelFormatError(join(root, f), `missing (nor is there a _quantized variant): ${purpose} needs the ONNX weights, which cannot be downloaded here`);
    }
  }
  return { dir: root, quantized, files: [...COMMON_FILES, ...files] };
}

/** Loads a checked folder as a transformers.js pipeline of `task`, offline. */
export async function loadLocalPipeline(model: LocalModelFiles, task: LocalTask): Promise<(input: unknown, options?: unknown) => Promise<unknown>> {
  // same resolution as shared/dataset/tokenizer.ts: name = folder, root = its parent, no remote or cache
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.useBrowserCache = false;
  env.localModelPath = dirname(model.dir) + '/';
  try {
    const pipe = await pipeline(task, basename(model.dir), { quantized: model.quantized, local_files_only: true });
    return (input, options) => (pipe as unknown as (i: unknown, o?: unknown) => Promise<unknown>)(input, options);
  } catch (err) {
    throw new ModelFormatError(model.dir, `@xenova/transformers could not load it for ${task}: ${(err as Error).message}`, { cause: err });
  }
}
