/**
 * Pruning masks travel with the checkpoint: a run resumed after --prune-end keeps its masks in
 * force (pruned weights stay zero), so the sparsity right after the resume equals the sparsity before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensors } from '../shared/model/safetensors.js';
import { MASKS_FILE } from '../shared/training/mask_file.js';
import { checkpointDir } from '../coordinator/cluster/checkpoints.js';
import { cli } from './run_cli.js';

/** Share of zeros of the Linear weights of a checkpoint's model. */
async function sparsity(dir: string): Promise<number> {
  const { tensors } = await readSafetensors(path.join(dir, 'model.safetensors'));
  let zeros = 0, total = 0;
  for (const [name, t] of tensors) {
    if (!/\.(q|k|v|o|wi|wo|wi_0|wi_1)\.weight$/.test(name)) continue;
    for (const x of t.data as Float32Array) { total++; if (x === 0) zeros++; }
  }
  return zeros / total;
}

test('masks survive a resume: sparsity right after resuming past --prune-end equals the sparsity before, and stays', { timeout: 300_000 }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-resume-masks-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const common = ['start', '--run-dir', runDir, '--metrics-port', '-1', '--no-nats', '--no-timeline', '--max-queries', '2', '--json', '--batch-size', '8',
    '--prune', '0.5', '--prune-begin', '2', '--prune-end', '4', '--prune-every', '2', '--checksum-every', '1'];
  const first = await cli([...common, '--steps', '6']);
  assert.equal(first.code, 0, first.stderr);
  const before = await sparsity(checkpointDir(runDir, 6));
  assert.ok(Math.abs(before - 0.5) < 1e-5, `sparsity at step 6: ${before}`);
  assert.ok(existsSync(path.join(checkpointDir(runDir, 6), MASKS_FILE)), 'the checkpoint holds the masks in force');
  // 2 workers resume (each restores the masks itself), a checkpoint after every step
  const resumed = await cli([...common, '--steps', '9', '--resume', '--workers', '2', '--checkpoint-every', '1', '--keep-checkpoints', '5']);
  assert.equal(resumed.code, 0, resumed.stderr);
  for (const step of [7, 8, 9]) {
    const s = await sparsity(checkpointDir(runDir, step));
    assert.equal(s, before, `sparsity at step ${step} after the resume: ${s}, before it ${before}`);
  }
  const masks = (await readSafetensors(path.join(checkpointDir(runDir, 9), MASKS_FILE)));
  assert.equal(masks.metadata['mask_version'], '2');
  assert.equal(masks.metadata['applied_at_step'], '4');
});
