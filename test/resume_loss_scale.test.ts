/**
 * A resumed fp16-wire run continues with the checkpoint's whole loss-scaler state (scale and the
 * good steps since it last changed), so the scale doubles at the same step as in an uninterrupted
 * run and the resumed run ends bit-identical to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensors } from '../shared/model/safetensors.js';
import { cli } from './run_cli.js';

async function params(checkpoint: string): Promise<Float32Array> {
  const { tensors } = await readSafetensors(path.join(checkpoint, 'model.safetensors'));
  return Float32Array.from([...tensors.values()].flatMap((t) => [...(t.data as Float32Array)]));
}

test('fp16 wire, loss scale doubling every 3 steps: interrupted at step 4 and resumed, the run ends bit-identical to an uninterrupted one', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-resume-scale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const common = ['start', '--workers', '2', '--wire', 'fp16', '--loss-scale', '8', '--loss-scale-window', '3', '--batch-size', '8', '--warmup-steps', '2',
    // a constant rate: the 4-step first half must follow the 8-step run's schedule (the default decays over the last steps)
    '--decay', 'constant',
    '--metrics-port', '-1', '--no-nats', '--no-timeline', '--max-queries', '2', '--json'];
  const run = async (args: string[]): Promise<{ losses: number[]; checkpoint: string; skipped_steps: number }> => {
    const r = await cli([...common, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { losses: number[]; checkpoint: string; skipped_steps: number };
  };
  const straight = await run(['--steps', '8', '--run-dir', path.join(dir, 'straight')]);
  assert.equal(straight.skipped_steps, 0, 'no overflow: the scale only doubles');
  const first = await run(['--steps', '4', '--run-dir', path.join(dir, 'resumed')]);
  const state = JSON.parse(readFileSync(path.join(first.checkpoint, 'trainer_state.json'), 'utf8')) as { run_config: { cluster_state: { lossScale: number; lossScaleGoodSteps: number } } };
  // doubled after step 3 (8 -> 16), one good step since
  assert.deepEqual([state.run_config.cluster_state.lossScale, state.run_config.cluster_state.lossScaleGoodSteps], [16, 1]);
  const resumed = await run(['--steps', '8', '--run-dir', path.join(dir, 'resumed'), '--resume']);
  assert.deepEqual(resumed.losses, straight.losses);
  assert.deepEqual(await params(resumed.checkpoint), await params(straight.checkpoint));
});
