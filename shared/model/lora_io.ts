/**
 * LoRA adapters on disk in PEFT's layout, so `PeftModel.from_pretrained(T5ForConditionalGeneration
 * .from_pretrained(base), dir)` opens them: dir/adapter_config.json (peft_type LORA, task_type
 * SEQ_2_SEQ_LM, r, lora_alpha, lora_dropout, target_modules) and dir/adapter_model.safetensors
 * with tensors `base_model.model.<module>.lora_A.weight` (r, Din) and `….lora_B.weight` (Dout, r).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoraTarget } from '../runtime/config.js';
import { ModelFormatError } from '../runtime/errors.js';
import { hfTensors } from './hf_folder.js';
import { writeFileDurable } from '../runtime/durable_files.js';
import { loraLayout, peftTargetModules, type LoraOptions } from './lora.js';
import { transpose2d, type ParamLayout } from './params.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';

export const ADAPTER_MODEL_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
/** PEFT's prefix of every adapter tensor of a PeftModelForSeq2SeqLM (LoraModel wraps the T5 as `model`). */
export const PEFT_PREFIX = 'base_model.model.';

/** PEFT module leaf names -> our targets (wi_0 and wi_1 are both 'wi'). */
const LEAF_TARGET: Readonly<Record<string, LoraTarget>> = { q: 'q', k: 'k', v: 'v', o: 'o', wi: 'wi', wi_0: 'wi', wi_1: 'wi', wo: 'wo' };

/** The adapters as PEFT's tensors: prefixed names, A (r, Din) and B (Dout, r), float32. */
export function peftAdapterTensors(lora: ParamLayout, adapters: Float32Array): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of hfTensors(lora, adapters)) out.set(PEFT_PREFIX + name, t);
  return out;
}

/** adapter_config.json as PEFT's LoraConfig writes it (the keys a from_pretrained needs, defaults for the rest). */
export function peftAdapterConfig(base: ParamLayout, o: LoraOptions, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA', task_type: 'SEQ_2_SEQ_LM', base_model_name_or_path: baseModel, inference_mode: true,
    r: o.rank, lora_alpha: o.alpha, lora_dropout: o.dropout, target_modules: peftTargetModules(base, o.targets),
    bias: 'none', fan_in_fan_out: false, init_lora_weights: true, use_rslora: false, use_dora: false,
    modules_to_save: null, layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {}, revision: null,
  };
}

/** Writes adapter_config.json + adapter_model.safetensors into `dir`. */
export async function saveAdapters(dir: string, base: ParamLayout, lora: ParamLayout, adapters: Float32Array, o: LoraOptions, baseModel: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeSafetensors(path.join(dir, ADAPTER_MODEL_FILE), peftAdapterTensors(lora, adapters), { format: 'pt' });
  writeFileDurable(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftAdapterConfig(base, o, baseModel), null, 2) + '\n');
}

export interface LoadedAdapters {
  options: LoraOptions;
  lora: ParamLayout;
  adapters: Float32Array;
}

/** Reads a PEFT LoRA folder for the base model `base`; every wrong field, missing or misshapen tensor is named. */
export async function loadAdapters(dir: string, base: ParamLayout): Promise<LoadedAdapters> {
  const cfgFile = path.join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(cfgFile)) throw new ModelFormatError(cfgFile, `${ADAPTER_CONFIG_FILE} is missing (a PEFT LoRA folder needs it and ${ADAPTER_MODEL_FILE})`);
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(cfgFile, 'utf8')); } catch (e) {
    throw new ModelFormatError(cfgFile, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!raw || typeof raw !== 'object') throw new ModelFormatError(cfgFile, 'expected a JSON object');
  const c = raw as Record<string, unknown>;
  if (c['peft_type'] !== 'LORA') throw new ModelFormatError(cfgFile, `field 'peft_type' is ${JSON.stringify(c['peft_type'])}, expected "LORA"`);
  const num = (key: string): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(cfgFile, `field '${key}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const modules = c['target_modules'];
  if (!Array.isArray(modules) || modules.some((m) => typeof m !== 'string' || !(m in LEAF_TARGET)))
    throw new ModelFormatError(cfgFile, `field 'target_modules' must list T5 Linear names of ${Object.keys(LEAF_TARGET).join(', ')}, got ${JSON.stringify(modules)}`);
  const targets = [...new Set((modules as string[]).map((m) => LEAF_TARGET[m] as LoraTarget))];
  const options: LoraOptions = { rank: num('r'), alpha: num('lora_alpha'), dropout: num('lora_dropout'), targets };
  if (!Number.isInteger(options.rank) || options.rank <= 0) throw new ModelFormatError(cfgFile, `field 'r' must be an integer > 0, got ${options.rank}`);

  const file = path.join(dir, ADAPTER_MODEL_FILE);
  if (!existsSync(file)) throw new ModelFormatError(file, `${ADAPTER_MODEL_FILE} is missing`);
  const { tensors } = await readSafetensors(file);
  const lora = loraLayout(base, options);
  const adapters = new Float32Array(lora.total);
  for (const s of lora.specs) {
    const name = PEFT_PREFIX + s.name;
    const t = tensors.get(name);
    if (!t) throw new ModelFormatError(file, `tensor '${name}' is missing (adapter_config.json targets ${JSON.stringify(modules)}, r = ${options.rank})`);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new ModelFormatError(file, `tensor '${name}' has dtype ${t.dtype}, expected a float type`);
    if (t.shape.length !== 2 || t.shape[0] !== s.hfShape[0] || t.shape[1] !== s.hfShape[1])
      throw new ModelFormatError(file, `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${s.hfShape.join(', ')}]`);
    adapters.set(transpose2d(t.data, s.hfShape[0] as number, s.hfShape[1] as number), s.offset);
  }
  if (tensors.size !== lora.specs.length)
    throw new ModelFormatError(file, `holds ${tensors.size} tensors, adapter_config.json implies ${lora.specs.length}`);
  return { options, lora, adapters };
}
