/** Dynamic magnitude pruning: the schedule, exact masks, and every worker applying the same mask at the same step. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { PRESET_CONFIGS, type T5Config } from '../shared/model/config.js';
import { initParams, t5ParamLayout } from '../shared/model/params.js';
import { isMaskStep, magnitudeMasks, sparsityReport, targetSparsity, type PruningSchedule } from '../shared/training/pruning.js';
import { applyMasks } from '../shared/model/pruning_masks.js';
import { readSafetensors } from '../shared/model/safetensors.js';

const schedule: PruningSchedule = { initial: 0.1, final: 0.7, beginStep: 10, endStep: 30, every: 5, scope: 'global' };

test('cubic sparsity schedule (Zhu & Gupta): initial at begin, final from end on, masks every K steps', () => {
  assert.equal(targetSparsity(schedule, 9), 0);
  assert.ok(Math.abs(targetSparsity(schedule, 10) - 0.1) < 1e-12);
  // halfway: final + (initial - final) * (1 - 0.5)^3 = 0.7 - 0.6 / 8
  assert.ok(Math.abs(targetSparsity(schedule, 20) - (0.7 - 0.6 / 8)) < 1e-12);
  assert.equal(targetSparsity(schedule, 30), 0.7);
  assert.equal(targetSparsity(schedule, 99), 0.7);
  assert.deepEqual([9, 10, 12, 15, 30, 35].map((s) => isMaskStep(schedule, s)), [false, true, false, true, true, false]);
});

test('magnitude masks prune exactly the smallest weights: global threshold, or the same share per layer', () => {
  const c: T5Config = { ...PRESET_CONFIGS['t5-tiny'], vocabSize: 50, dModel: 8, dKv: 4, dFf: 16, numHeads: 2, numLayers: 1, numDecoderLayers: 1 };
  const layout = t5ParamLayout(c);
  const params = initParams(layout, 3);
  for (const scope of ['global', 'layer'] as const) {
    const p = Float32Array.from(params);
    applyMasks(layout, p, magnitudeMasks(layout, p, 0.6, scope));
    const r = sparsityReport(layout, p);
    const total = layout.specs.filter((s) => s.transposed).reduce((n, s) => n + s.size, 0);
    assert.ok(Math.abs(r.overall - 0.6) <= 1 / total * Object.keys(r.perLayer).length, `${scope}: ${r.overall}`);
    if (scope === 'layer') for (const [name, z] of Object.entries(r.perLayer)) assert.ok(Math.abs(z - 0.6) < 0.02, `${name}: ${z}`);
    // the embedding and the norms are never pruned
    const emb = layout.byName.get('shared.weight');
    assert.ok(emb && p.subarray(emb.offset, emb.offset + emb.size).every((x, i) => x === params[(emb.offset) + i]));
  }
  // global: every kept weight is at least as large as every pruned one
  const p = Float32Array.from(params);
  const masks = magnitudeMasks(layout, p, 0.5, 'global');
  applyMasks(layout, p, masks);
  let maxPruned = 0, minKept = Infinity;
  for (const s of layout.specs.filter((x) => x.transposed))
    for (let i = s.offset; i < s.offset + s.size; i++) {
      if (p[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(params[i] as number));
      else minKept = Math.min(minKept, Math.abs(p[i] as number));
    }
  assert.ok(maxPruned <= minKept, `${maxPruned} > ${minKept}`);
});

test('2 workers: masks broadcast by the coordinator, applied at the same step by both ranks (checksums every step), sparsity follows the schedule', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-prune-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', '2', '--steps', '10',
    '--batch-size', '8', '--prune', '0.5', '--prune-begin', '2', '--prune-end', '8', '--prune-every', '2', '--checksum-every', '1',
    '--max-queries', '2', '--run-dir', dir, '--json'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const s = JSON.parse(r.stdout) as { steps: number; checkpoint: string; pruning: { masks: Array<{ step: number; target: number; reached: number }>; final: { overall: number } } };
  assert.equal(s.steps, 10);
  assert.deepEqual(s.pruning.masks.map((m) => m.step), [2, 4, 6, 8]);
  const sched: PruningSchedule = { initial: 0, final: 0.5, beginStep: 2, endStep: 8, every: 2, scope: 'global' };
  for (const m of s.pruning.masks) {
    assert.ok(Math.abs(m.target - targetSparsity(sched, m.step)) < 1e-12);
    assert.ok(Math.abs(m.reached - m.target) < 1e-5, `step ${m.step}: reached ${m.reached}, target ${m.target}`);
  }
  // each rank logged applying every mask version at the mask's step
  const applied = r.stderr.split('\n').filter((l) => l.includes('"msg":"pruning masks applied"')).map((l) => JSON.parse(l) as { workerId: string; step: number; version: number });
  for (const workerId of ['local-000', 'local-001'])
    assert.deepEqual(applied.filter((a) => a.workerId === workerId).map((a) => [a.step, a.version]), [[2, 1], [4, 2], [6, 3], [8, 4]]);
  // the final weights hold the final sparsity
  const { tensors } = await readSafetensors(path.join(s.checkpoint, 'model.safetensors'));
  let zeros = 0, total = 0;
  for (const [name, tns] of tensors) {
    if (!/\.(q|k|v|o|wi|wo|wi_0|wi_1)\.weight$/.test(name)) continue;
    for (const x of tns.data as Float32Array) { total++; if (x === 0) zeros++; }
  }
  assert.ok(Math.abs(zeros / total - 0.5) < 1e-5, `final sparsity ${zeros / total}`);
  assert.equal(s.pruning.final.overall, zeros / total);
});

test('lora + pruning: the frozen base is pruned at the mask steps on every rank, the adapters stay dense', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-prune-lora-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', '2', '--steps', '6',
    '--batch-size', '8', '--mode', 'lora', '--prune', '0.4', '--prune-begin', '1', '--prune-end', '4', '--prune-every', '3', '--checksum-every', '1',
    '--max-queries', '2', '--run-dir', dir, '--json', '--no-nats'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const s = JSON.parse(r.stdout) as { checkpoint: string; pruning: { masks: Array<{ step: number; target: number; reached: number }>; final: { overall: number } } };
  assert.deepEqual(s.pruning.masks.map((m) => m.step), [1, 4]);
  assert.ok(Math.abs((s.pruning.masks[1]?.reached ?? 0) - 0.4) < 1e-5);
  const applied = r.stderr.split('\n').filter((l) => l.includes('"msg":"pruning masks applied"')).map((l) => JSON.parse(l) as { workerId: string; step: number });
  for (const workerId of ['local-000', 'local-001']) assert.deepEqual(applied.filter((a) => a.workerId === workerId).map((a) => a.step), [1, 4]);
  // the checkpoint's base model holds the sparsity; the adapters are dense
  const base = await readSafetensors(path.join(s.checkpoint, 'model.safetensors'));
  let zeros = 0, total = 0;
  for (const [name, tns] of base.tensors) {
    if (!/\.(q|k|v|o|wi|wo|wi_0|wi_1)\.weight$/.test(name)) continue;
    for (const x of tns.data as Float32Array) { total++; if (x === 0) zeros++; }
  }
  assert.ok(Math.abs(zeros / total - 0.4) < 1e-5, `base sparsity ${zeros / total}`);
  const adapters = await readSafetensors(path.join(s.checkpoint, 'adapter', 'adapter_model.safetensors'));
  for (const [name, tns] of adapters.tensors) if (name.includes('lora_A')) assert.ok((tns.data as Float32Array).every((x) => x !== 0), name);
});
