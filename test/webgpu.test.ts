/**
 * The checks of gradients.test.ts and determinism.test.ts on the webgpu backend (Dawn), each
 * compared with the cpu backend in the same process. Without a GPU the adapter is Mesa's llvmpipe
 * through Dawn's OpenGL ES backend (.ci/run installs Mesa's EGL and llvmpipe from Debian): these
 * tests never skip; without an adapter they fail, saying which packages are missing.
 *
 * Inputs are drawn once on the cpu backend and uploaded to each backend as plain arrays; results
 * are read back asynchronously (the webgpu backend cannot read synchronously in Node).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/log.js';
import type { GpuAdapterReport } from '../shared/runtime/webgpu.js';
import { embeddingLookup, matMul } from '../shared/model/layers.js';
import { crossEntropy, crossEntropyReference } from '../shared/model/loss.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { weightsFromFlat } from '../shared/model/t5.js';
import { accumulateGradients, batchLoss, type TokenBatch } from '../shared/model/grads.js';
import { newAdamWState } from '../shared/training/adamw.js';
import { Trainer } from '../shared/training/trainer.js';
import { PreparedOrder, type PreparedExamples } from '../shared/training/sampler.js';
import { Rng } from '../shared/runtime/random.js';
import { GRADIENT_PROBES } from './tensor_checks.js';

// Tolerances, float32 on both sides; the webgpu kernels sum in another order than the cpu ones
/** Elementwise ops and small matMuls (K <= 13): a few ulps of values of order 1. */
const OP_TOL = 1e-5;
/** Whole T5 gradient: max |webgpu - cpu| over max |cpu| (long reduction chains). */
const T5_GRAD_REL_TOL = 1e-4;
/** Loss curves of 6 training steps: |webgpu - cpu| / loss at each step. */
const CURVE_REL_TOL = 1e-4;

const MISSING = 'no WebGPU adapter: install Mesa\'s EGL and llvmpipe (Debian: libegl-dev libegl-mesa0 libgl1-mesa-dri, as .ci/run does)';
let device: GpuAdapterReport;

before(async () => {
  await initBackend('cpu');
  try {
    const info = await initBackend('webgpu', { webgpuApi: 'auto' });
    assert.ok(info.device, 'initBackend(webgpu) reports the adapter');
    device = info.device;
    // tfjs-backend-webgpu runs ops on small CPU-resident inputs in JS; these tests are small, so
    // turn that off: every op below runs as a WebGPU shader
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  } catch (e) {
    throw new Error(`${MISSING}: ${(e as Error).message}`, { cause: e });
  }
});

type Backend = 'cpu' | 'webgpu';

/** Runs `fn` (synchronous, tidied) on a backend and reads its tensors back. */
async function on(backend: Backend, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
  const out = tf.tidy(fn);
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

/** Seeded N(0, 1) values, drawn in JS (the same on every backend). */
function normal(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.nextNormal());
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

test('webgpu adapter is found and described (name, api, software or hardware)', () => {
  assert.ok(device.device || device.description, 'adapter has a name');
  assert.ok(device.api === 'vulkan' || device.api === 'opengles');
  // Mesa's rasterisers are software; a name that says llvmpipe/lavapipe must never count as a GPU
  if (/llvmpipe|lavapipe/i.test(`${device.device} ${device.description}`)) assert.equal(device.type, 'software');
});

test('webgpu: embedding scatter gradient equals tf.gather gradient on cpu (repeated ids add up)', async () => {
  const [V, D] = [11, 5];
  const table = normal(V * D, 1), dy = normal(6 * D, 2), ids = Int32Array.from([3, 0, 3, 10, 7, 3]);
  const grad = (lookup: (t: tf.Tensor2D, i: tf.Tensor1D) => tf.Tensor) => (): tf.Tensor[] => {
    const i = tf.tensor1d(ids, 'int32'), dyT = tf.tensor2d(dy, [6, D]);
    return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lookup(t as tf.Tensor2D, i), dyT)))(tf.tensor2d(table, [V, D]))];
  };
  const [ours] = await on('webgpu', grad(embeddingLookup));
  const [theirs] = await on('cpu', grad((t, i) => tf.gather(t, i)));
  assert.ok(ours && theirs);
  assert.ok(maxAbsDiff(ours, theirs) < OP_TOL, `max diff ${maxAbsDiff(ours, theirs)}`);
  // row 3 = the sum of three dy rows; rows never looked up stay exactly zero
  assert.ok(Math.abs((ours[3 * D] as number) - ((dy[0] as number) + (dy[2 * D] as number) + (dy[5 * D] as number))) < OP_TOL);
  assert.ok(ours.slice(1 * D, 3 * D).every((g) => g === 0));
});

for (const [sa, sb] of [[[7, 4], [4, 9]], [[3, 6, 4], [3, 4, 5]]] as const) {
  test(`webgpu: matMul ${JSON.stringify([sa, sb])} explicit-transpose gradient equals tf.matMul gradient on cpu`, async () => {
    const size = (s: readonly number[]): number => s.reduce((p, x) => p * x, 1);
    const outShape = sa.length === 2 ? [sa[0], sb[1]] : [sa[0], sa[1], sb[2]];
    const a = normal(size(sa), 3), b = normal(size(sb), 4), dy = normal(size(outShape as number[]), 5);
    const grads = (mm: (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor) => (): tf.Tensor[] => {
      const dyT = tf.tensor(dy, outShape as number[]);
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x as tf.Tensor3D, y as tf.Tensor3D), dyT)))(
        [tf.tensor(a, [...sa]), tf.tensor(b, [...sb])]);
    };
    const ours = await on('webgpu', grads((x, y) => matMul(x, y)));
    const theirs = await on('cpu', grads((x, y) => tf.matMul(x, y)));
    for (let i = 0; i < 2; i++) {
      const d = maxAbsDiff(ours[i] as Float32Array, theirs[i] as Float32Array);
      assert.ok(d < OP_TOL, `${i === 0 ? 'dA' : 'dB'} max diff ${d}`);
    }
  });
}

test('webgpu: fused cross-entropy value and gradient equal the logSoftmax form on cpu; padding rows get zero', async () => {
  const [N, V] = [6, 13];
  const logits = normal(N * V, 6).map((x) => 2 * x), labels = Int32Array.from([1, 12, 0, 5, 5, 2]);
  const weights = Float32Array.from([1, 1, 0, 1, 1, 0]);
  const run = (ce: typeof crossEntropy) => (): tf.Tensor[] => {
    const r = tf.valueAndGrad((x: tf.Tensor) => ce(x as tf.Tensor2D, tf.tensor1d(labels, 'int32'), tf.tensor1d(weights)))(tf.tensor2d(logits, [N, V]));
    return [r.value, r.grad];
  };
  const [oursLoss, oursGrad] = await on('webgpu', run(crossEntropy));
  const [refLoss, refGrad] = await on('cpu', run(crossEntropyReference));
  assert.ok(oursLoss && oursGrad && refLoss && refGrad);
  assert.ok(maxAbsDiff(oursLoss, refLoss) < OP_TOL, `loss ${oursLoss[0]} vs ${refLoss[0]}`);
  assert.ok(maxAbsDiff(oursGrad, refGrad) < OP_TOL, `grad max diff ${maxAbsDiff(oursGrad, refGrad)}`);
  assert.ok(oursGrad.slice(2 * V, 3 * V).every((g) => g === 0));
});

// the finite-difference model of gradients.test.ts: gated-gelu, untied head, dropout off
const tinyT5: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 8, dKv: 4, dFf: 16, numHeads: 2,
  numLayers: 1, numDecoderLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16 };
const tinyBatch: TokenBatch = { inputIds: Int32Array.from([5, 9, 13, 1, 7, 1, 0, 0]), labels: Int32Array.from([21, 30, 1, 22, 1, 0]), B: 2, S: 4, T: 3 };

async function t5Gradient(backend: Backend, flat: Float32Array): Promise<{ grad: Float32Array; loss: number }> {
  assert.ok(await tf.setBackend(backend));
  const layout = t5ParamLayout(tinyT5);
  const grad = new Float32Array(layout.total);
  const w = weightsFromFlat(layout, flat);
  const { loss } = await accumulateGradients(tinyT5, layout, w, tinyBatch, 1, grad);
  tf.dispose([...w.values()]);
  return { grad, loss };
}

test('webgpu: whole T5 loss and gradient equal the cpu backend\'s, and match central finite differences', async () => {
  const layout = t5ParamLayout(tinyT5);
  const flat = initParams(layout, 7);
  const gpu = await t5Gradient('webgpu', flat), cpu = await t5Gradient('cpu', flat);
  assert.ok(Math.abs(gpu.loss - cpu.loss) < OP_TOL * Math.max(1, cpu.loss), `loss ${gpu.loss} vs ${cpu.loss}`);
  const rel = maxAbsDiff(gpu.grad, cpu.grad) / maxAbs(cpu.grad);
  assert.ok(rel < T5_GRAD_REL_TOL, `gradient: max |webgpu - cpu| / max |cpu| = ${rel}`);
  // every parameter gets a gradient on webgpu (a missing kernel path would leave zeros)
  for (const spec of layout.specs)
    assert.ok(maxAbs(gpu.grad.subarray(spec.offset, spec.offset + spec.size)) > 0, `${spec.name}: zero gradient on webgpu`);

  // finite differences of the webgpu loss, the probes and bound of gradients.test.ts
  const lossAt = async (p: Float32Array): Promise<number> => {
    const [l] = await on('webgpu', () => [batchLoss(tinyT5, weightsFromFlat(layout, p), tinyBatch)]);
    return l?.[0] ?? NaN;
  };
  for (const name of GRADIENT_PROBES) {
    const spec = layout.byName.get(name);
    assert.ok(spec, name);
    const i = spec.offset + Math.floor(spec.size / 3);
    const eps = 1e-2;
    const plus = Float32Array.from(flat); plus[i] = (plus[i] as number) + eps;
    const minus = Float32Array.from(flat); minus[i] = (minus[i] as number) - eps;
    const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
    const analytic = gpu.grad[i] as number;
    assert.ok(Math.abs(numeric - analytic) < 2e-3 + 0.05 * Math.abs(numeric), `${name}[${i - spec.offset}]: analytic ${analytic} vs numeric ${numeric}`);
  }
});

// the training run of determinism.test.ts: dropout on, accumulation 2, AdamW, 6 steps
const stepModel: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 200, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 1, numDecoderLayers: 1, dropoutRate: 0.1 };

function syntheticData(n: number): PreparedExamples {
  const rng = new Rng(99);
  const ex = Array.from({ length: n }, () => ({
    input: Int32Array.from({ length: 5 + rng.nextInt(8) }, (_, i) => (i === 0 ? 1 : 3 + rng.nextInt(190))).reverse(),
    target: Int32Array.from([3 + rng.nextInt(10), 3 + rng.nextInt(10), 1]),
  }));
  return { numExamples: n, example: (i) => ex[i] as { input: Int32Array; target: Int32Array } };
}

async function lossCurve(backend: Backend, seed: number, steps: number): Promise<{ losses: number[]; tensorsPerStep: number[] }> {
  assert.ok(await tf.setBackend(backend));
  const cfg = loadConfig({ args: ['--seed', String(seed), '--batch-size', '8', '--accumulate', '2', '--steps', String(steps), '--warmup-steps', '2'], env: {} });
  const layout = t5ParamLayout(stepModel);
  const state = { step: 0, params: initParams(layout, seed), opt: newAdamWState(layout.total) };
  const trainer = new Trainer({ cfg, model: stepModel, layout, data: new PreparedOrder(syntheticData(40), cfg.runtime.seed), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, state);
  const losses: number[] = [], tensorsPerStep: number[] = [];
  for (let i = 0; i < steps; i++) {
    const before = tf.memory().numTensors;
    losses.push((await trainer.step()).loss);
    tensorsPerStep.push(tf.memory().numTensors - before);
  }
  return { losses, tensorsPerStep };
}

test('webgpu: the training step (dropout, accumulation 2, AdamW) follows the cpu loss curve, leaks no tensors, and learns', async () => {
  const gpu = await lossCurve('webgpu', 5, 6);
  const cpu = await lossCurve('cpu', 5, 6);
  gpu.losses.forEach((l, i) => {
    const ref = cpu.losses[i] as number;
    assert.ok(Math.abs(l - ref) < CURVE_REL_TOL * ref, `step ${i}: webgpu loss ${l} vs cpu ${ref}`);
  });
  assert.deepEqual(gpu.tensorsPerStep, gpu.losses.map(() => 0), 'tensors alive after each step on webgpu');
  assert.ok((gpu.losses.at(-1) as number) < (gpu.losses[0] as number), `loss ${gpu.losses[0]} -> ${gpu.losses.at(-1)}`);
});

test('automatic choice takes webgpu only on a hardware adapter (here: a software one goes to wasm)', async () => {
  const info = await initBackend('auto');
  const gpuTry = info.tried.find((t) => t.backend === 'webgpu');
  if (device.type === 'software') {
    assert.notEqual(info.name, 'webgpu');
    // refused either before loading Dawn (no GPU device node, as on CI) or after seeing only a software adapter
    assert.ok(gpuTry && !gpuTry.ok && /software|no GPU device node/.test(gpuTry.reason ?? ''), JSON.stringify(info.tried));
  } else if (!info.tried.some((t) => t.backend === 'tensorflow' && t.ok)) {
    assert.equal(info.name, 'webgpu');
    assert.equal(info.device?.type, 'hardware');
  }
});
