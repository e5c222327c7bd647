/** Same seed and data, same loss curve, bit for bit; another seed, another curve. */
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
import { Rng } from '../shared/runtime/random.js';

const model: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 200, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 1, numDecoderLayers: 1, dropoutRate: 0.1 };

function syntheticData(n: number): PreparedExamples {
  const rng = new Rng(99);
  const ex = Array.from({ length: n }, () => ({
    input: Int32Array.from({ length: 5 + rng.nextInt(8) }, (_, i, ) => (i === 0 ? 1 : 3 + rng.nextInt(190))).reverse(),
    target: Int32Array.from([3 + rng.nextInt(10), 3 + rng.nextInt(10), 1]),
  }));
  return { numExamples: n, example: (i) => ex[i] as { input: Int32Array; target: Int32Array } };
}

async function lossCurve(seed: number, steps: number): Promise<number[]> {
  const cfg = loadConfig({ args: ['--seed', String(seed), '--batch-size', '8', '--accumulate', '2', '--steps', String(steps), '--warmup-steps', '2'], env: {} });
  const layout = t5ParamLayout(model);
  const state = { step: 0, params: initParams(layout, seed), opt: newAdamWState(layout.total) };
  const trainer = new Trainer({ cfg, model, layout, data: new PreparedOrder(syntheticData(40), cfg.runtime.seed), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, state);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await trainer.step()).loss);
  return out;
}

test('training is deterministic: same seed -> identical loss curve (dropout on, accumulation 2)', async () => {
  await initBackend('wasm');
  const a = await lossCurve(5, 6), b = await lossCurve(5, 6), c = await lossCurve(6, 6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok((a.at(-1) as number) < (a[0] as number), `loss ${a[0]} -> ${a.at(-1)}`);
});
