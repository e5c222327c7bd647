/**
 * LoRA and QLoRA on a small T5 (cpu backend): B = 0 gives the base model, merged = unmerged,
 * QLoRA within the NF4 bound, adapter gradients equal plain TensorFlow.js's, training moves
 * only the adapters, and the PEFT files have PEFT's names and shapes.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/runtime/backend.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/log.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { decode, encode, shiftRight, weightsFromFlat, type Weights } from '../shared/model/t5.js';
import { frozenMatMul, project, type Projection } from '../shared/model/layers.js';
import { accumulateGradients, batchLoss, type TokenBatch } from '../shared/model/grads.js';
import { initLora, loraLayout, loraScale, type LoraOptions } from '../shared/model/lora.js';
import { AdaptedModel } from '../shared/model/peft.js';
import { NF4_MAX_HALF_GAP, blockScales, quantizeNf4, NF4_BLOCK } from '../shared/model/nf4.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, loadAdapters, saveAdapters } from '../shared/model/lora_io.js';
import { readSafetensors } from '../shared/model/safetensors.js';
import { newAdamWState } from '../shared/training/adamw.js';
import { PreparedOrder } from '../shared/training/sampler.js';
import { Trainer } from '../shared/training/trainer.js';
import { Rng } from '../shared/runtime/random.js';

before(async () => { await initBackend('cpu'); });

// gated-gelu and an untied head: every Linear kind (wi_0, wi_1) and both output paths are covered
const C: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 40, dModel: 16, dKv: 4, dFf: 32, numHeads: 2,
  numLayers: 1, numDecoderLayers: 1, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, relativeAttentionNumBuckets: 8, relativeAttentionMaxDistance: 16 };
const LAYOUT = t5ParamLayout(C);
const BASE = initParams(LAYOUT, 7);
const ALL: LoraOptions = { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'wi', 'wo'] };
const BATCH: TokenBatch = { inputIds: Int32Array.from([5, 9, 13, 1, 7, 1, 0, 0]), labels: Int32Array.from([21, 30, 1, 22, 1, 0]), B: 2, S: 4, T: 3 };

/** Logits (B*T, V) of the batch, teacher-forced. */
function logits(w: Weights): Float32Array {
  return tf.tidy(() => {
    const enc = encode(C, w, tf.tensor2d(BATCH.inputIds, [BATCH.B, BATCH.S], 'int32'));
    return decode(C, w, enc, tf.tensor2d(shiftRight(BATCH.labels, BATCH.B, BATCH.T, 0), [BATCH.B, BATCH.T], 'int32'));
  }).dataSync() as Float32Array;
}

function randomize(a: Float32Array, seed: number, std: number): Float32Array {
  const rng = new Rng(seed);
  return a.map(() => (2 * rng.nextFloat() - 1) * std);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

test('LoRA layout: A (Din, r) and B (r, Dout) per adapted module; B starts at zero, A in ±1/sqrt(Din)', () => {
  const lora = loraLayout(LAYOUT, { ...ALL, targets: ['q', 'v'] });
  // q and v of 1 encoder self-attention, 1 decoder self-attention and 1 cross-attention: 6 modules, A and B each
  assert.equal(lora.specs.length, 12);
  const a = lora.byName.get('decoder.block.0.layer.1.EncDecAttention.v.lora_A.weight');
  const b = lora.byName.get('decoder.block.0.layer.1.EncDecAttention.v.lora_B.weight');
  assert.deepEqual([a?.shape, a?.hfShape, b?.shape, b?.hfShape], [[16, 4], [4, 16], [4, 8], [8, 4]]);
  const init = initLora(lora, 1);
  for (const s of lora.specs) {
    const v = init.subarray(s.offset, s.offset + s.size);
    if (s.name.includes('lora_B')) assert.ok(v.every((x) => x === 0), s.name);
    else assert.ok(v.some((x) => x !== 0) && v.every((x) => Math.abs(x) <= 1 / Math.sqrt(s.shape[0] as number)), s.name);
  }
});

test('B = 0: the LoRA model\'s output is exactly the base model\'s', () => {
  const adapted = new AdaptedModel(LAYOUT, BASE, { lora: ALL, quantize: false, doubleQuant: false });
  const w = adapted.build(initLora(adapted.lora, 1));
  const base = weightsFromFlat(LAYOUT, BASE);
  assert.deepEqual(logits(w), logits(base));
  adapted.release(w); adapted.dispose(); tf.dispose([...base.values()]);
});

test('merged adapters give the unmerged output (float tolerance); QLoRA merges into the dequantised base', () => {
  for (const quantize of [false, true]) {
    const adapted = new AdaptedModel(LAYOUT, BASE, { lora: ALL, quantize, doubleQuant: true });
    const adapters = randomize(new Float32Array(adapted.lora.total), 5, 0.3);
    const w = adapted.build(adapters);
    const merged = weightsFromFlat(LAYOUT, adapted.merged(BASE, adapters));
    const [x, y] = [logits(w), logits(merged)];
    const scale = Math.max(...Array.from(x, Math.abs));
    assert.ok(maxAbsDiff(x, y) < 1e-5 * scale, `quantize=${quantize}: max diff ${maxAbsDiff(x, y)} (logits up to ${scale})`);
    // the adapters do change the model: the merged model is not the base
    assert.ok(maxAbsDiff(x, logits(weightsFromFlat(LAYOUT, adapted.forwardBaseParams(BASE)))) > 1e-3 * scale);
    adapted.release(w); adapted.dispose(); tf.dispose([...merged.values()]);
  }
});

test('QLoRA: every base Linear weight it uses is within the NF4 bound, and its forward equals the float model on those weights', () => {
  const adapted = new AdaptedModel(LAYOUT, BASE, { lora: ALL, quantize: true, doubleQuant: true });
  const deq = adapted.forwardBaseParams(BASE);
  for (const s of LAYOUT.specs) {
    const w = BASE.subarray(s.offset, s.offset + s.size), d = deq.subarray(s.offset, s.offset + s.size);
    if (!s.transposed) { assert.deepEqual(d, w, `${s.name} stays float32`); continue; }
    const plain = blockScales(quantizeNf4(w, s.shape, false)), stored = blockScales(quantizeNf4(w, s.shape, true));
    for (let i = 0; i < s.size; i++) {
      const b = Math.floor(i / NF4_BLOCK), bound = (plain[b] as number) * NF4_MAX_HALF_GAP + Math.abs((plain[b] as number) - (stored[b] as number));
      assert.ok(Math.abs((w[i] as number) - (d[i] as number)) <= bound * (1 + 1e-6), `${s.name}[${i}]`);
    }
  }
  const adapters = randomize(new Float32Array(adapted.lora.total), 6, 0.3);
  const w = adapted.build(adapters);
  const ref = weightsFromFlat(LAYOUT, adapted.merged(BASE, adapters));
  const [x, y] = [logits(w), logits(ref)];
  assert.ok(maxAbsDiff(x, y) < 1e-5 * Math.max(...Array.from(y, Math.abs)), `max diff ${maxAbsDiff(x, y)}`);
  adapted.release(w); adapted.dispose(); tf.dispose([...ref.values()]);
});

test('project(): frozen and NF4 bases with an adapter give tf.matMul\'s value and gradients (x, A, B)', () => {
  const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
  const W = tf.randomNormal([5, 7], 0, 1, 'float32', 2) as tf.Tensor2D;
  const a = tf.randomNormal([5, 3], 0, 1, 'float32', 3) as tf.Tensor2D;
  const b = tf.randomNormal([3, 7], 0, 1, 'float32', 4) as tf.Tensor2D;
  const dy = tf.randomNormal([6, 7], 0, 1, 'float32', 5);
  const scale = 2.5;
  const reference = tf.grads((xi: tf.Tensor, ai: tf.Tensor, bi: tf.Tensor) =>
    tf.sum(tf.mul(tf.add(tf.matMul(xi, W), tf.mul(tf.matMul(tf.matMul(xi, ai), bi), scale)), dy)))([x, a, b]);
  const bases: Projection['base'][] = [{ kind: 'frozen', w: W }, { kind: 'quantized', dequantize: () => tf.clone(W) }];
  for (const base of bases) {
    const ours = tf.grads((xi: tf.Tensor, ai: tf.Tensor, bi: tf.Tensor) =>
      tf.sum(tf.mul(project({ base, lora: { a: ai as tf.Tensor2D, b: bi as tf.Tensor2D, scale, dropout: 0 } }, xi as tf.Tensor2D), dy)))([x, a, b]);
    ours.forEach((g, i) => {
      const d = tf.max(tf.abs(tf.sub(g, reference[i] as tf.Tensor))).dataSync()[0] as number;
      assert.ok(d < 1e-4, `${base.kind}: gradient ${['x', 'A', 'B'][i]} differs by ${d}`);
    });
  }
  // an owned (dequantised) weight is disposed after each use: no tensor outlives the call
  const before = tf.memory().numTensors;
  tf.tidy(() => { frozenMatMul(x, () => tf.clone(W), true); });
  assert.equal(tf.memory().numTensors, before);
});

test('adapter gradients of the whole T5 equal plain tf\'s gradient of the loss through W + (alpha/r) A B', async () => {
  for (const quantize of [false, true]) {
    const adapted = new AdaptedModel(LAYOUT, BASE, { lora: ALL, quantize, doubleQuant: false });
    const lora = adapted.lora;
    const adapters = randomize(new Float32Array(lora.total), 8, 0.3);
    const grad = new Float32Array(lora.total);
    const w = adapted.build(adapters);
    await accumulateGradients(C, lora, w, BATCH, 1, grad);
    // reference: the plain model with W' = W + s * A B built by tf ops, differentiated by tf with respect to A and B
    const base = weightsFromFlat(LAYOUT, adapted.forwardBaseParams(BASE));
    const names = lora.specs.map((s) => s.name);
    const tensors = lora.specs.map((s) => tf.tensor(adapters.subarray(s.offset, s.offset + s.size), s.shape));
    const refGrads = tf.grads((...xs: tf.Tensor[]) => {
      const m: Weights = new Map(base);
      for (let i = 0; i < names.length; i += 2) {
        const module = (names[i] as string).replace('.lora_A.weight', '');
        m.set(`${module}.weight`, tf.add(base.get(`${module}.weight`) as tf.Tensor, tf.mul(tf.matMul(xs[i] as tf.Tensor2D, xs[i + 1] as tf.Tensor2D), loraScale(ALL))));
      }
      return batchLoss(C, m, BATCH);
    })(tensors);
    lora.specs.forEach((s, i) => {
      const ref = refGrads[i]?.dataSync() as Float32Array;
      const ours = grad.subarray(s.offset, s.offset + s.size);
      const d = maxAbsDiff(ours, ref), mag = Math.max(...Array.from(ref, Math.abs));
      assert.ok(d <= 1e-4 * Math.max(mag, 1e-3), `quantize=${quantize} ${s.name}: max diff ${d} (gradient up to ${mag})`);
    });
    adapted.release(w); adapted.dispose(); tf.dispose([...base.values(), ...tensors, ...refGrads]);
  }
});

for (const mode of ['lora', 'qlora'] as const) {
  test(`${mode} training: adapters change, the frozen base stays bit-identical, AdamW state covers only the adapters, no tensor leaks`, async () => {
    const cfg = loadConfig({ args: ['--mode', mode, '--lora-rank', '2', '--lora-targets', 'q,v,wo', '--batch-size', '4', '--warmup-steps', '0', '--lr', '1e-2'], env: {} });
    const adapted = new AdaptedModel(LAYOUT, BASE, { lora: { rank: 2, alpha: 32, dropout: 0.1, targets: ['q', 'v', 'wo'] }, quantize: mode === 'qlora', doubleQuant: true });
    const baseBefore = logits(weightsFromFlat(LAYOUT, BASE));
    const snapshot = (w: Weights): Map<string, string> =>
      new Map([...w].filter(([k]) => !k.includes('.lora_')).map(([k, t]) => [k, Buffer.from((t.dataSync() as Float32Array).buffer).toString('base64')]));
    const w0 = adapted.build(new Float32Array(adapted.lora.total));
    const frozenBefore = snapshot(w0);
    adapted.release(w0);
    const data = { numExamples: 16, example: (i: number) => ({ input: Int32Array.from([3 + (i % 30), 4 + ((i * 7) % 30), 1]), target: Int32Array.from([20 + (i % 10), 1]) }) };
    const adapters = initLora(adapted.lora, 9);
    const state = { step: 0, params: adapters.slice(), opt: newAdamWState(adapted.lora.total) };
    const trainer = new Trainer({ cfg, model: C, layout: adapted.lora, weights: adapted, data: new PreparedOrder(data, cfg.runtime.seed), rank: 0, worldSize: 1, log: createLogger({ level: 'warn' }) }, state);
    const tensorsAfter: number[] = [];
    for (let i = 0; i < 3; i++) {
      assert.ok(Number.isFinite((await trainer.step()).loss));
      tensorsAfter.push(tf.memory().numTensors);
    }
    // every step releases what it made (adapter tensors, dequantised weights): the count stays flat
    assert.equal(tensorsAfter[2], tensorsAfter[0]);
    assert.equal(state.opt.m.length, adapted.lora.total);
    assert.ok(maxAbsDiff(state.params, adapters) > 0, 'adapters moved');
    const bSpec = adapted.lora.specs.find((s) => s.name.endsWith('lora_B.weight'));
    assert.ok(bSpec && state.params.subarray(bSpec.offset, bSpec.offset + bSpec.size).some((x) => x !== 0), 'B left zero');
    const after = adapted.build(state.params);
    assert.deepEqual(snapshot(after), frozenBefore);
    assert.deepEqual(logits(weightsFromFlat(LAYOUT, BASE)), baseBefore);
    adapted.release(after); adapted.dispose();
  });
}

test('PEFT files: adapter_config.json (LORA, SEQ_2_SEQ_LM, r, alpha, targets) and tensors named and shaped as PEFT\'s; round trip exact', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-lora-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const o: LoraOptions = { rank: 4, alpha: 16, dropout: 0.05, targets: ['q', 'v', 'wi'] };
  const lora = loraLayout(LAYOUT, o);
  const adapters = randomize(new Float32Array(lora.total), 11, 1);
  await saveAdapters(dir, LAYOUT, lora, adapters, o, '/models/base');
  const cfg = JSON.parse(readFileSync(path.join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([cfg['peft_type'], cfg['task_type'], cfg['r'], cfg['lora_alpha'], cfg['lora_dropout'], cfg['target_modules'], cfg['base_model_name_or_path']],
    ['LORA', 'SEQ_2_SEQ_LM', 4, 16, 0.05, ['q', 'v', 'wi_0', 'wi_1'], '/models/base']);
  const { tensors, metadata } = await readSafetensors(path.join(dir, ADAPTER_MODEL_FILE));
  assert.equal(metadata['format'], 'pt');
  const p = 'base_model.model.';
  assert.deepEqual(tensors.get(`${p}encoder.block.0.layer.0.SelfAttention.q.lora_A.weight`)?.shape, [4, 16]);    // (r, D)
  assert.deepEqual(tensors.get(`${p}encoder.block.0.layer.0.SelfAttention.q.lora_B.weight`)?.shape, [8, 4]);     // (H*Kv, r)
  assert.deepEqual(tensors.get(`${p}decoder.block.0.layer.2.DenseReluDense.wi_1.lora_A.weight`)?.shape, [4, 16]);
  assert.deepEqual(tensors.get(`${p}decoder.block.0.layer.2.DenseReluDense.wi_1.lora_B.weight`)?.shape, [32, 4]); // (F, r)
  // q, v in 3 attentions + wi_0, wi_1 in 2 feed-forwards = 10 modules, A and B each
  assert.equal(tensors.size, 20);
  assert.ok([...tensors.keys()].every((k) => k.startsWith(p) && /\.lora_[AB]\.weight$/.test(k)));
  const back = await loadAdapters(dir, LAYOUT);
  assert.deepEqual(back.options, o);
  assert.deepEqual(back.adapters, adapters);
});
