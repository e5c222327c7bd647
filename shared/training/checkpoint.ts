/**
 * Training checkpoints: a Hugging Face model folder (shared/model/hf_folder.ts) plus the optimizer
 * state and where training stands, each file's sha256 recorded so a damaged checkpoint is refused.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CheckpointWriteError, ModelFormatError } from '../runtime/errors.js';
import type { T5Config } from '../model/config.js';
import type { ParamLayout } from '../model/params.js';
import { CONFIG_FILE, MODEL_FILE, loadHfModel, saveHfModel } from '../model/hf_folder.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../model/safetensors.js';
import type { AdamWState } from './adamw.js';
import { syncDirSync, writeFileDurable } from '../runtime/durable_files.js';
import { MASKS_FILE, readMaskFile, writeMaskFile, type MasksInForce } from './mask_file.js';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';

export interface TrainingCheckpoint {
  config: T5Config;
  layout: ParamLayout;
  state: { step: number; params: Float32Array; opt: AdamWState };
  dataDir: string;
  runConfig: unknown;
  losses: number[];
  /** The pruning masks in force (pruning_masks.safetensors); absent: none. */
  masks?: MasksInForce;
}

/** trainer_state.json of a full-model checkpoint. */
export interface TrainerStateFile {
  step: number;
  adam_t: number;
  data_dir: string;
  run_config: unknown;
  losses: number[];
  files: Record<string, string>;   // name -> sha256
}

/** Replaces `dir` by the finished temporary folder `tmp`, then fsyncs the parent so the rename survives a crash. */
export function publishFolder(tmp: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  syncDirSync(path.dirname(dir));
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * A checkpoint folder's trainer_state.json, after checking every file it lists against its sha256;
 * throws ModelFormatError naming the missing or changed file.
 */
export function readVerifiedState<T extends { files?: Record<string, string> }>(dir: string): T {
  const stateFile = path.join(dir, TRAINER_STATE_FILE);
  if (!existsSync(stateFile)) throw new ModelFormatError(stateFile, 'not a training checkpoint (trainer_state.json is missing)');
  let st: T;
  try { st = JSON.parse(readFileSync(stateFile, 'utf8')) as T; } catch (e) {
    throw new ModelFormatError(stateFile, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  for (const [f, want] of Object.entries(st.files ?? {})) {
    const p = path.join(dir, f);
    if (!existsSync(p)) throw new ModelFormatError(p, 'missing from the checkpoint');
    if (sha256File(p) !== want) throw new ModelFormatError(p, `sha256 differs from ${TRAINER_STATE_FILE}: the file is corrupt or was changed`);
  }
  return st;
}

/**
 * Writes a training checkpoint folder: the Hugging Face model files, optimizer moments and
 * trainer_state.json (step, data, run config, sha256 of each file). Built in a temporary sibling
 * folder and renamed into place, so an interrupted write never leaves a half checkpoint.
 */
export async function saveTrainingCheckpoint(dir: string, ck: Omit<TrainingCheckpoint, 'dataDir'> & { dataDir: string }): Promise<string> {
  return buildFolder(dir, async (tmp) => {
    await saveHfModel(tmp, ck.config, ck.layout, ck.state.params);
    await writeSafetensors(path.join(tmp, OPTIMIZER_FILE), new Map<string, SafeTensor>([
      ['adamw.exp_avg', { dtype: 'F32', shape: [ck.layout.total], data: ck.state.opt.m }],
      ['adamw.exp_avg_sq', { dtype: 'F32', shape: [ck.layout.total], data: ck.state.opt.v }],
    ]), { format: 'dsi-flat', layout: 'parameters of model.safetensors in layout order, Linear weights as (in, out)' });
    const extra = ck.masks ? [await writeMaskFile(tmp, ck.masks)] : [];
    const files: Record<string, string> = {};
    for (const f of [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, ...extra]) files[f] = sha256File(path.join(tmp, f));
    const state: TrainerStateFile = { step: ck.state.step, adam_t: ck.state.opt.t, data_dir: ck.dataDir, run_config: ck.runConfig, losses: ck.losses, files };
    writeFileDurable(path.join(tmp, TRAINER_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  });
}

/**
 * Builds a checkpoint folder: `fill` writes it in a temporary sibling, which is then renamed into
 * place. A failed write (ENOSPC, EACCES...) removes the temporary folder (a full disk gets its space
 * back) and throws CheckpointWriteError naming the folder and the cause; earlier checkpoints are untouched.
 */
export async function buildFolder(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    await fill(tmp);
    publishFolder(tmp, dir);
    return dir;
  } catch (e) {
    try { rmSync(tmp, { recursive: true, force: true }); } catch { /* the cause below is what matters */ }
    throw new CheckpointWriteError(dir, (e as Error).message, { cause: e });
  }
}

export async function loadTrainingCheckpoint(dir: string): Promise<TrainingCheckpoint> {
  const st = readVerifiedState<TrainerStateFile>(dir);
  const model = await loadHfModel(dir);
  const opt = (await readSafetensors(path.join(dir, OPTIMIZER_FILE))).tensors;
  const m = opt.get('adamw.exp_avg'), v = opt.get('adamw.exp_avg_sq');
  if (!m || !v || !(m.data instanceof Float32Array) || !(v.data instanceof Float32Array) || m.data.length !== model.layout.total || v.data.length !== model.layout.total)
    throw new ModelFormatError(path.join(dir, OPTIMIZER_FILE), `needs adamw.exp_avg and adamw.exp_avg_sq of ${model.layout.total} float32 values`);
  const masks = st.files[MASKS_FILE] ? await readMaskFile(dir, model.layout) : undefined;
  return {
    config: model.config, layout: model.layout, dataDir: st.data_dir, runConfig: st.run_config, losses: st.losses,
    state: { step: st.step, params: model.params, opt: { t: st.adam_t, m: m.data, v: v.data } }, ...(masks ? { masks } : {}),
  };
}
