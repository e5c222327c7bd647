/** LoRA/QLoRA training checkpoints: base + PEFT adapter + merged model + adapter optimizer state, reloaded as the same model. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { decode, encode, weightsFromFlat, type Weights } from '../shared/model/t5.js';
import { AdaptedModel } from '../shared/model/peft.js';
import { loadHfModel } from '../shared/model/hf_folder.js';
import { ADAPTER_DIR, MERGED_DIR, loadLoraCheckpoint, saveLoraCheckpoint } from '../shared/training/lora_checkpoint.js';
import { loadTrainedModel } from '../shared/training/trained_model.js';
import { Rng } from '../shared/runtime/random.js';

before(async () => { await initBackend('cpu'); });

const C: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 16, dKv: 4, dFf: 32, numHeads: 2, numLayers: 1, numDecoderLayers: 1 };

function logits(c: T5Config, w: Weights): Float32Array {
  return tf.tidy(() => {
    const enc = encode(c, w, tf.tensor2d([5, 9, 13, 1, 7, 1, 0, 0], [2, 4], 'int32'));
    return decode(c, w, enc, tf.tensor2d([0, 21, 30, 0, 22, 1], [2, 3], 'int32'));
  }).dataSync() as Float32Array;
}

test('QLoRA checkpoint: search reloads exactly the trained model; merged/ is a plain HF model of it; a changed adapter file is named', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-lora-ck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const layout = t5ParamLayout(C);
  const baseParams = initParams(layout, 3);
  const options = { rank: 4, alpha: 8, dropout: 0.1, targets: ['q', 'v', 'wo'] as const };
  const adapted = new AdaptedModel(layout, baseParams, { lora: { ...options, targets: [...options.targets] }, quantize: true, doubleQuant: true });
  const rng = new Rng(4);
  const adapters = Float32Array.from({ length: adapted.lora.total }, () => rng.nextFloat() - 0.5);
  const opt = { t: 7, m: adapters.map((x) => x / 10), v: adapters.map((x) => x * x) };
  const ckDir = path.join(dir, 'checkpoint');
  await saveLoraCheckpoint(ckDir, {
    mode: 'qlora', doubleQuant: true, config: C, base: layout, baseParams, options: adapted.o.lora, lora: adapted.lora,
    state: { step: 7, params: adapters, opt }, dataDir: '/data', runConfig: { train: { mode: 'qlora' } }, losses: [3, 2],
  }, adapted.merged(baseParams, adapters));
  const w = adapted.build(adapters);
  const trained = logits(C, w);

  const back = await loadLoraCheckpoint(ckDir);
  assert.deepEqual([back.mode, back.doubleQuant, back.state.step, back.options], ['qlora', true, 7, adapted.o.lora]);
  assert.deepEqual(back.baseParams, baseParams);
  assert.deepEqual([back.state.params, back.state.opt.m, back.state.opt.v, back.state.opt.t], [adapters, opt.m, opt.v, 7]);
  const model = await loadTrainedModel(ckDir);
  assert.equal(model.mode, 'qlora');
  assert.deepEqual(logits(model.config, model.weights), trained);       // the same NF4 base, the same adapters: bit-identical
  model.dispose();

  const merged = await loadHfModel(path.join(ckDir, MERGED_DIR));
  const mw = weightsFromFlat(merged.layout, merged.params);
  const m = logits(merged.config, mw);
  const scale = Math.max(...Array.from(trained, Math.abs));
  assert.ok(m.every((x, i) => Math.abs(x - (trained[i] as number)) < 1e-5 * scale));
  tf.dispose([...mw.values()]);
  adapted.release(w); adapted.dispose();

  appendFileSync(path.join(ckDir, ADAPTER_DIR, 'adapter_model.safetensors'), 'x');
  await assert.rejects(loadLoraCheckpoint(ckDir), /adapter_model\.safetensors: sha256 differs/);
});
