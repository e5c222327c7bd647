/**
 * Everything a run trains, built the same way in every process that needs it (each worker, and the
 * coordinator when it writes checkpoints and evaluates): the model, its frozen base and adapters
 * (lora/qlora), and the trainable state, from the seed or from a checkpoint.
 */
import { PRESET_CONFIGS, type T5Config } from '../model/config.js';
import { initParams, t5ParamLayout, type ParamLayout } from '../model/params.js';
import { loadHfModel } from '../model/hf_folder.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './checkpoint.js';
import { initLora } from '../model/lora.js';
import { AdaptedModel, fullMemory, type AdaptedModelOptions, type MemoryFigures } from '../model/peft.js';
import { isLoraCheckpoint, loadLoraCheckpoint, saveLoraCheckpoint } from './lora_checkpoint.js';
import { weightsFromFlat, type Weights } from '../model/t5.js';
import { mixSeed } from '../runtime/random.js';
import { newAdamWState, type AdamWState } from './adamw.js';
import type { Config } from '../runtime/config.js';
import type { MasksInForce } from './mask_file.js';
import { docidInitTerms, initDocidRowsFromTerms } from './docid_init.js';
import type { PreparedDataset } from '../dataset/reader.js';
import * as tf from '@tensorflow/tfjs';

/** Seed stream of the LoRA A matrices (distinct from the base initialisation's). */
const LORA_INIT_STREAM = 0x10a;

export interface TrainState {
  step: number;              // optimizer steps done
  params: Float32Array;      // the trainable parameters (whole model, or adapters), layout order
  opt: AdamWState;
}

export interface TrainingSetup {
  model: T5Config;
  /** The whole model's layout and weights (lora/qlora: the frozen base). */
  baseLayout: ParamLayout;
  baseParams: Float32Array;
  /** lora/qlora only. */
  adapted?: AdaptedModel;
  /** What trains: baseLayout (full) or the adapters' layout. */
  trainLayout: ParamLayout;
  state: TrainState;
  memory: MemoryFigures;
  /** The run config stored in the checkpoint resumed from (the cluster keeps its own state there). */
  resumedRunConfig?: unknown;
  /** The pruning masks in force: restored from the checkpoint, replaced at every mask step; checkpoints store them. */
  masks?: MasksInForce;
}

/** LoRA/QLoRA settings of a run, from the config. */
export function adaptedModelOptions(cfg: Config): AdaptedModelOptions {
  const l = cfg.lora;
  return { lora: { rank: l.rank, alpha: l.alpha, dropout: l.dropout, targets: [...l.targets] }, quantize: cfg.train.mode === 'qlora', doubleQuant: l.doubleQuant };
}

/** Model config and initial weights: a Hugging Face folder, or the preset with seeded init. */
export async function initialModel(cfg: Config, vocabSize: number): Promise<{ model: T5Config; layout: ParamLayout; params: Float32Array }> {
  if (cfg.model.from) {
    const loaded = await loadHfModel(cfg.model.from, { minVocabSize: vocabSize, seed: cfg.runtime.seed });
    return { model: loaded.config, layout: loaded.layout, params: loaded.params };
  }
  // atomic docids add one output row per document to the 32128 of T5
  const model: T5Config = { ...PRESET_CONFIGS[cfg.model.preset], vocabSize: Math.max(vocabSize, PRESET_CONFIGS[cfg.model.preset].vocabSize) };
  const layout = t5ParamLayout(model);
  return { model, layout, params: initParams(layout, cfg.runtime.seed) };
}

/**
 * A fresh setup (step 0) for `data` (its vocabulary; with atomic docids, rows from its documents'
 * top terms: docid_init.ts), or the state of the checkpoint folder `resumeFrom`.
 */
export async function setUpTraining(cfg: Config, data: PreparedDataset, resumeFrom?: string): Promise<TrainingSetup> {
  if (resumeFrom) {
    if (isLoraCheckpoint(resumeFrom)) {
      const ck = await loadLoraCheckpoint(resumeFrom);
      const adapted = new AdaptedModel(ck.base, ck.baseParams, adaptedModelOptions(cfg));
      return {
        model: ck.config, baseLayout: ck.base, baseParams: ck.baseParams, adapted, trainLayout: adapted.lora, state: ck.state, memory: adapted.memory(),
        resumedRunConfig: ck.runConfig, ...(ck.masks ? { masks: ck.masks } : {}),
      };
    }
    const ck = await loadTrainingCheckpoint(resumeFrom);
    return {
      model: ck.config, baseLayout: ck.layout, baseParams: ck.state.params, trainLayout: ck.layout, state: ck.state, memory: fullMemory(ck.layout),
      resumedRunConfig: ck.runConfig, ...(ck.masks ? { masks: ck.masks } : {}),
    };
  }
  const { model, layout, params } = await initialModel(cfg, data.manifest.model_vocab_size);
  const docidTerms = docidInitTerms(cfg, data);   // read here only: a resumed run has its rows already
  if (docidTerms) initDocidRowsFromTerms(params, layout, docidTerms);
  if (cfg.train.mode === 'full') {
    return { model, baseLayout: layout, baseParams: params, trainLayout: layout, state: { step: 0, params, opt: newAdamWState(layout.total) }, memory: fullMemory(layout) };
  }
  // lora/qlora: the adapters are what trains; the base is frozen (qlora: NF4)
  const adapted = new AdaptedModel(layout, params, adaptedModelOptions(cfg));
  const state = { step: 0, params: initLora(adapted.lora, mixSeed(cfg.runtime.seed, LORA_INIT_STREAM)), opt: newAdamWState(adapted.lora.total) };
  return { model, baseLayout: layout, baseParams: params, adapted, trainLayout: adapted.lora, state, memory: adapted.memory() };
}

export interface CheckpointInfo {
  /** The run's config, and whatever else the writer keeps with it (stored as JSON). */
  runConfig: unknown;
  dataDir: string;
  losses: number[];
}

/** Writes the setup's current state as a checkpoint folder (atomically); returns its path. */
export async function writeCheckpoint(dir: string, s: TrainingSetup, info: CheckpointInfo): Promise<string> {
  if (s.adapted) {
    return saveLoraCheckpoint(dir, {
      mode: s.adapted.o.quantize ? 'qlora' : 'lora', doubleQuant: s.adapted.o.doubleQuant, config: s.model, base: s.baseLayout,
      baseParams: s.baseParams, options: s.adapted.o.lora, lora: s.adapted.lora, state: s.state, ...info, ...(s.masks ? { masks: s.masks } : {}),
    }, s.adapted.merged(s.baseParams, s.state.params));
  }
  return saveTrainingCheckpoint(dir, { config: s.model, layout: s.baseLayout, state: s.state, ...info, ...(s.masks ? { masks: s.masks } : {}) });
}

/** The forward pass's weights for the current state (base + adapters in lora/qlora); free with releaseWeights. */
export function currentWeights(s: TrainingSetup): Weights {
  return s.adapted ? s.adapted.build(s.state.params) : weightsFromFlat(s.baseLayout, s.state.params);
}

export function releaseWeights(s: TrainingSetup, w: Weights): void {
  if (s.adapted) s.adapted.release(w);
  else tf.dispose([...w.values()]);
}
