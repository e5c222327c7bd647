/** Hugging Face model folders and training checkpoints: exact round trips, clear errors on bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PRESET_CONFIGS, readHfConfig, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { loadHfModel, saveHfModel } from '../shared/model/hf_folder.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../shared/training/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../shared/model/safetensors.js';
import { newAdamWState } from '../shared/training/adamw.js';

const small: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 64, dModel: 16, dKv: 4, dFf: 32, numHeads: 4, numLayers: 2, numDecoderLayers: 1 };

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-ckpt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

for (const variant of [{ name: 'T5 v1.0 (relu, tied)', c: small }, { name: 'T5 v1.1 (gated-gelu, untied)', c: { ...small, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false } as T5Config }]) {
  test(`Hugging Face folder round trip is exact to the bit: ${variant.name}`, async (t) => {
    const dir = tmp(t);
    const layout = t5ParamLayout(variant.c);
    const params = initParams(layout, 11);
    params[3] = -0;                                 // signed zero survives too
    await saveHfModel(dir, variant.c, layout, params);
    const loaded = await loadHfModel(dir);
    assert.deepEqual(loaded.config, variant.c);
    assert.deepEqual(bits(loaded.params), bits(params));
    // Hugging Face names and (out, in) layouts on disk
    const { tensors, metadata } = await readSafetensors(path.join(dir, 'model.safetensors'));
    assert.equal(metadata['format'], 'pt');
    assert.deepEqual(tensors.get('encoder.block.0.layer.0.SelfAttention.q.weight')?.shape, [16, 16]);
    assert.deepEqual(tensors.get('encoder.block.1.layer.1.DenseReluDense.wo.weight')?.shape, [16, 32]);
    assert.deepEqual(tensors.get('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight')?.shape, [32, 4]);
    assert.equal(tensors.has('lm_head.weight'), !variant.c.tieWordEmbeddings);
    const hf = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(hf['d_model'], 16);
    assert.equal(hf['feed_forward_proj'], variant.c.feedForwardProj);
  });
}

test('a Hugging Face config.json is read with its own keys (t5-small as published)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-cfg-'));
  try {
    writeFileSync(path.join(dir, 'config.json'), readFileSync(new URL('../../data/t5-tokenizer/config.json', import.meta.url)));
    assert.deepEqual(readHfConfig(path.join(dir, 'config.json')), PRESET_CONFIGS['t5-small']);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('atomic docids grow the vocabulary of a loaded model; the original rows are unchanged', async (t) => {
  const dir = tmp(t);
  const layout = t5ParamLayout(small);
  const params = initParams(layout, 5);
  await saveHfModel(dir, small, layout, params);
  const grown = await loadHfModel(dir, { minVocabSize: 80, seed: 1 });
  assert.equal(grown.config.vocabSize, 80);
  const spec = grown.layout.byName.get('shared.weight');
  assert.ok(spec);
  assert.deepEqual(grown.params.subarray(spec.offset, spec.offset + 64 * 16), params.subarray(0, 64 * 16));
});

test('bad model folders: each error names the file and what is wrong', async (t) => {
  const dir = tmp(t);
  await assert.rejects(loadHfModel(path.join(dir, 'nope')), /nope: model folder does not exist/);
  mkdirSync(path.join(dir, 'a'));
  await assert.rejects(loadHfModel(path.join(dir, 'a')), /a\/config\.json: config\.json is missing/);
  writeFileSync(path.join(dir, 'a', 'config.json'), '{"d_model": 16,');
  await assert.rejects(loadHfModel(path.join(dir, 'a')), /a\/config\.json: not valid JSON/);
  writeFileSync(path.join(dir, 'a', 'config.json'), JSON.stringify({ model_type: 't5', d_model: 'big' }));
  await assert.rejects(loadHfModel(path.join(dir, 'a')), /field 'd_model' must be a number/);
  const layout = t5ParamLayout(small);
  await saveHfModel(path.join(dir, 'b'), small, layout, initParams(layout, 1));
  const file = path.join(dir, 'b', 'model.safetensors');
  const { tensors } = await readSafetensors(file);
  tensors.delete('decoder.block.0.layer.1.EncDecAttention.k.weight');
  await writeSafetensors(file, tensors, { format: 'pt' });
  await assert.rejects(loadHfModel(path.join(dir, 'b')), /model\.safetensors: tensor 'decoder\.block\.0\.layer\.1\.EncDecAttention\.k\.weight' is missing/);
  const cfg = JSON.parse(readFileSync(path.join(dir, 'b', 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(dir, 'b', 'config.json'), JSON.stringify({ ...cfg, d_ff: 48 }));
  await saveHfModel(path.join(dir, 'c'), small, layout, initParams(layout, 1));
  writeFileSync(path.join(dir, 'c', 'config.json'), JSON.stringify({ ...cfg, d_ff: 48 }));
  await assert.rejects(loadHfModel(path.join(dir, 'c')), /has shape \[32, 16\], config\.json implies \[48, 16\]/);
});

test('training checkpoint: weights, optimizer and step round-trip; a changed file is detected by name', async (t) => {
  const dir = tmp(t);
  const layout = t5ParamLayout(small);
  const state = { step: 7, params: initParams(layout, 2), opt: newAdamWState(layout.total) };
  state.opt.t = 7;
  state.opt.m.fill(0.25);
  state.opt.v.fill(0.5);
  const ckdir = path.join(dir, 'checkpoint');
  await saveTrainingCheckpoint(ckdir, { config: small, layout, state, runConfig: { seed: 1 }, dataDir: '/data', losses: [3, 2] });
  const back = await loadTrainingCheckpoint(ckdir);
  assert.equal(back.state.step, 7);
  assert.equal(back.state.opt.t, 7);
  assert.deepEqual(bits(back.state.params), bits(state.params));
  assert.deepEqual(back.state.opt.m, state.opt.m);
  assert.deepEqual(back.losses, [3, 2]);
  assert.equal(back.dataDir, '/data');
  const cfgFile = path.join(ckdir, 'config.json');
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('"d_ff": 32', '"d_ff": 32 '));
  await assert.rejects(loadTrainingCheckpoint(ckdir), /config\.json: sha256 differs/);
});
