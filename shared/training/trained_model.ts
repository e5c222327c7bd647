/**
 * The model of a training checkpoint, ready for the forward pass: a full checkpoint's weights as
 * they are, a LoRA/QLoRA checkpoint's as frozen base + adapters (QLoRA: the base re-quantised to
 * NF4, deterministically, so search sees exactly the model that was trained and evaluated).
 */
import * as tf from '@tensorflow/tfjs';
import type { T5Config } from '../model/config.js';
import { loadTrainingCheckpoint } from './checkpoint.js';
import { isLoraCheckpoint, loadLoraCheckpoint } from './lora_checkpoint.js';
import { AdaptedModel } from '../model/peft.js';
import { weightsFromFlat, type Weights } from '../model/t5.js';

export interface TrainedModel {
  config: T5Config;
  weights: Weights;
  dataDir: string;
  mode: 'full' | 'lora' | 'qlora';
  dispose(): void;
}

export async function loadTrainedModel(dir: string): Promise<TrainedModel> {
  if (!isLoraCheckpoint(dir)) {
    const ck = await loadTrainingCheckpoint(dir);
    const weights = weightsFromFlat(ck.layout, ck.state.params);
    return { config: ck.config, weights, dataDir: ck.dataDir, mode: 'full', dispose: () => tf.dispose([...weights.values()]) };
  }
  const ck = await loadLoraCheckpoint(dir);
  const adapted = new AdaptedModel(ck.base, ck.baseParams, { lora: ck.options, quantize: ck.mode === 'qlora', doubleQuant: ck.doubleQuant });
  const weights = adapted.build(ck.state.params);
  return { config: ck.config, weights, dataDir: ck.dataDir, mode: ck.mode, dispose: () => { adapted.release(weights); adapted.dispose(); } };
}
