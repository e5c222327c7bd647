/**
 * Redoing a step after a lost worker: a rank that applied the interrupted step goes back to the copy
 * taken before it, and the redo from there ends bit-identical to the step it replaces (a real Trainer
 * step: forward, backward, clip, AdamW).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../shared/runtime/backend.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/log.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { newAdamWState } from '../shared/training/adamw.js';
import { Trainer } from '../shared/training/trainer.js';
import { PreparedOrder, type PreparedExamples } from '../shared/training/sampler.js';
import { LossScaler } from '../shared/training/loss_scaler.js';
import { StepSnapshot } from '../shared/training/step_snapshot.js';
import { Rng } from '../shared/runtime/random.js';

const model: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 200, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 1, numDecoderLayers: 1, dropoutRate: 0 };

function syntheticData(n: number): PreparedExamples {
  const rng = new Rng(7);
  const ex = Array.from({ length: n }, () => ({
    input: Int32Array.from({ length: 4 + rng.nextInt(6) }, () => 3 + rng.nextInt(190)),
    target: Int32Array.from([3 + rng.nextInt(10), 1]),
  }));
  return { numExamples: n, example: (i) => ex[i] as { input: Int32Array; target: Int32Array } };
}

test('a step rolled back from the snapshot and redone ends bit-identical; a worker at another step is refused by name', async () => {
  await initBackend('wasm');
  const cfg = loadConfig({ args: ['--batch-size', '4', '--steps', '5', '--warmup-steps', '1', '--wire', 'fp16'], env: {} });
  const layout = t5ParamLayout(model);
  const state = { step: 0, params: initParams(layout, 3), opt: newAdamWState(layout.total) };
  const trainer = new Trainer({ cfg, model, layout, data: new PreparedOrder(syntheticData(20), cfg.runtime.seed), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, state);
  const scaler = LossScaler.initial('fp16', 1024, 1);   // window 1: every good step doubles the scale, so a missed restore shows
  const snapshot = new StepSnapshot();
  await trainer.step();
  scaler.update(false);

  snapshot.take(state, scaler.state);
  const before = { params: state.params.slice(), scale: scaler.scale };
  await trainer.step();
  scaler.update(false);
  const applied = { params: state.params.slice(), m: state.opt.m.slice(), v: state.opt.v.slice(), t: state.opt.t, scale: scaler.scale };
  assert.notDeepEqual(applied.params, before.params);

  assert.equal(snapshot.rewind(state, scaler.state, 1), true);
  assert.equal(state.step, 1);
  assert.deepEqual(state.params, before.params);
  assert.equal(scaler.scale, before.scale);
  assert.equal(snapshot.rewind(state, scaler.state, 1), false);   // already there: nothing to do

  await trainer.step();
  scaler.update(false);
  assert.deepEqual(state.params, applied.params);
  assert.deepEqual([state.opt.m, state.opt.v, state.opt.t, scaler.scale], [applied.m, applied.v, applied.t, applied.scale]);
  assert.throws(() => snapshot.rewind(state, scaler.state, 0), /asked to continue from step 0, but this worker is at step 2 and holds the state of step 1/);
});
