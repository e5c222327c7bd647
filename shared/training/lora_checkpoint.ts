/**
 * Training checkpoints of LoRA/QLoRA runs. One folder holds
 *   config.json + model.safetensors   the frozen base (Hugging Face layout), as training started
 *   adapter/                          the adapters in PEFT's layout (lora_io.ts)
 *   merged/                           base + adapters merged (QLoRA: into the dequantised base), a plain HF model
 *   optimizer.safetensors             AdamW moments of the adapters only
 *   trainer_state.json                mode, step, run config, sha256 of every file
 * written in a temporary sibling folder and renamed into place, like full checkpoints.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ModelFormatError } from '../runtime/errors.js';
import type { T5Config } from '../model/config.js';
import type { ParamLayout } from '../model/params.js';
import type { LoraOptions } from '../model/lora.js';
import { CONFIG_FILE, MODEL_FILE, loadHfModel, saveHfModel } from '../model/hf_folder.js';
import { OPTIMIZER_FILE, TRAINER_STATE_FILE, buildFolder, readVerifiedState, sha256File } from './checkpoint.js';
import { writeFileDurable } from '../runtime/durable_files.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, loadAdapters, saveAdapters } from '../model/lora_io.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../model/safetensors.js';
import type { AdamWState } from './adamw.js';
import { MASKS_FILE, readMaskFile, writeMaskFile, type MasksInForce } from './mask_file.js';

export const ADAPTER_DIR = 'adapter';
export const MERGED_DIR = 'merged';

export type AdapterMode = 'lora' | 'qlora';

export interface LoraCheckpoint {
  mode: AdapterMode;
  doubleQuant: boolean;
  config: T5Config;
  base: ParamLayout;
  baseParams: Float32Array;                                     // the frozen base, float32
  options: LoraOptions;
  lora: ParamLayout;
  state: { step: number; params: Float32Array; opt: AdamWState }; // params: the adapters
  dataDir: string;
  runConfig: unknown;
  losses: number[];
  /** The pruning masks in force on the base (pruning_masks.safetensors); absent: none. */
  masks?: MasksInForce;
}

interface LoraStateFile {
  mode: AdapterMode;
  double_quant: boolean;
  step: number;
  adam_t: number;
  data_dir: string;
  run_config: unknown;
  losses: number[];
  files: Record<string, string>;   // relative path -> sha256
}


/** A checkpoint folder written by saveLoraCheckpoint (it has adapter/adapter_config.json). */
export function isLoraCheckpoint(dir: string): boolean {
  return existsSync(path.join(dir, ADAPTER_DIR, ADAPTER_CONFIG_FILE));
}

/** Writes the checkpoint; `merged` is base + adapters as one plain model (AdaptedModel.merged). */
export async function saveLoraCheckpoint(dir: string, ck: LoraCheckpoint, merged: Float32Array): Promise<string> {
  return buildFolder(dir, async (tmp) => {
    await saveHfModel(tmp, ck.config, ck.base, ck.baseParams);
    // PEFT reads base_model_name_or_path only to fetch the base itself; here it sits next to the adapter
    await saveAdapters(path.join(tmp, ADAPTER_DIR), ck.base, ck.lora, ck.state.params, ck.options, path.resolve(dir));
    await saveHfModel(path.join(tmp, MERGED_DIR), ck.config, ck.base, merged);
    await writeSafetensors(path.join(tmp, OPTIMIZER_FILE), new Map<string, SafeTensor>([
      ['adamw.exp_avg', { dtype: 'F32', shape: [ck.lora.total], data: ck.state.opt.m }],
      ['adamw.exp_avg_sq', { dtype: 'F32', shape: [ck.lora.total], data: ck.state.opt.v }],
    ]), { format: 'dsi-flat', layout: 'adapter tensors of adapter/adapter_model.safetensors in layout order, as (in, r) and (r, out)' });
    const extra = ck.masks ? [await writeMaskFile(tmp, ck.masks)] : [];
    const files: Record<string, string> = {};
    for (const f of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, path.join(ADAPTER_DIR, ADAPTER_MODEL_FILE), path.join(ADAPTER_DIR, ADAPTER_CONFIG_FILE), ...extra])
      files[f] = sha256File(path.join(tmp, f));
    const state: LoraStateFile = {
      mode: ck.mode, double_quant: ck.doubleQuant, step: ck.state.step, adam_t: ck.state.opt.t,
      data_dir: ck.dataDir, run_config: ck.runConfig, losses: ck.losses, files,
    };
    writeFileDurable(path.join(tmp, TRAINER_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  });
}

export async function loadLoraCheckpoint(dir: string): Promise<LoraCheckpoint> {
  const st = readVerifiedState<LoraStateFile>(dir);
  if (st.mode !== 'lora' && st.mode !== 'qlora')
    throw new ModelFormatError(path.join(dir, TRAINER_STATE_FILE), `field 'mode' is ${JSON.stringify(st.mode)}, expected "lora" or "qlora"`);
  const base = await loadHfModel(dir);
  const { options, lora, adapters } = await loadAdapters(path.join(dir, ADAPTER_DIR), base.layout);
  const opt = (await readSafetensors(path.join(dir, OPTIMIZER_FILE))).tensors;
  const m = opt.get('adamw.exp_avg'), v = opt.get('adamw.exp_avg_sq');
  if (!m || !v || !(m.data instanceof Float32Array) || !(v.data instanceof Float32Array) || m.data.length !== lora.total || v.data.length !== lora.total)
    throw new ModelFormatError(path.join(dir, OPTIMIZER_FILE), `needs adamw.exp_avg and adamw.exp_avg_sq of ${lora.total} float32 values (the adapters)`);
  const masks = st.files[MASKS_FILE] ? await readMaskFile(dir, base.layout) : undefined;
  return {
    mode: st.mode, doubleQuant: st.double_quant, config: base.config, base: base.layout, baseParams: base.params,
    options, lora, state: { step: st.step, params: adapters, opt: { t: st.adam_t, m: m.data, v: v.data } },
    dataDir: st.data_dir, runConfig: st.run_config, losses: st.losses, ...(masks ? { masks } : {}),
  };
}
