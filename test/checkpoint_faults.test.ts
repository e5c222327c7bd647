/**
 * Checkpoints damaged on disk and checkpoint writes that fail, with real runs: a truncated, a
 * bit-flipped and a missing file each make the resume fall back to the previous checkpoint, naming
 * the file; a checkpoint folder on a full filesystem (a tiny tmpfs this test mounts; root only) stops
 * the run with one clear line, and the previous checkpoint still loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkpointDir, newestValidCheckpoint } from '../coordinator/cluster/checkpoints.js';
import { loadTrainingCheckpoint } from '../shared/training/checkpoint.js';
import { cli } from './run_cli.js';

const COMMON = ['start', '--metrics-port', '-1', '--no-nats', '--no-timeline', '--max-queries', '2', '--json', '--batch-size', '8', '--checkpoint-every', '2'];

function tmp(t: { after(fn: () => void): void }, name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `dsi-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const DAMAGE: Array<{ name: string; file: string; damage: (file: string) => void; problem: RegExp }> = [
  { name: 'truncated', file: 'model.safetensors', damage: (f) => truncateSync(f, 1000), problem: /model\.safetensors: sha256 differs/ },
  {
    name: 'bit-flipped', file: 'optimizer.safetensors', problem: /optimizer\.safetensors: sha256 differs/,
    damage: (f) => { const b = readFileSync(f); const i = b.length >> 1; b[i] = (b[i] as number) ^ 0x04; writeFileSync(f, b); },
  },
  { name: 'missing', file: 'config.json', damage: (f) => rmSync(f), problem: /config\.json: missing from the checkpoint/ },
];

test('a truncated, a bit-flipped and a missing checkpoint file: reported by name, the resume continues from the previous checkpoint', { timeout: 300_000 }, async (t) => {
  const base = tmp(t, 'ckpt-damage');
  const original = path.join(base, 'run');
  const first = await cli([...COMMON, '--steps', '4', '--run-dir', original]);
  assert.equal(first.code, 0, first.stderr);
  for (const d of DAMAGE) {
    const runDir = path.join(base, d.name);
    cpSync(original, runDir, { recursive: true });
    d.damage(path.join(checkpointDir(runDir, 4), d.file));
    const found = newestValidCheckpoint(runDir);
    assert.equal(found?.step, 2, d.name);
    assert.match(found?.skipped.join('\n') ?? '', d.problem, d.name);
    const r = await cli([...COMMON, '--steps', '6', '--run-dir', runDir, '--resume', '--log-level', 'warn']);
    assert.equal(r.code, 0, `${d.name}: ${r.stderr}`);
    const skipped = r.stderr.split('\n').filter((l) => l.includes('"msg":"skipping an invalid checkpoint"')).map((l) => JSON.parse(l) as { problem: string });
    assert.equal(skipped.length, 1, `${d.name}: ${r.stderr}`);
    assert.match(skipped[0]?.problem ?? '', d.problem);
    assert.ok(skipped[0]?.problem.includes(path.join(checkpointDir(runDir, 4), d.file)), `${d.name}: names the file: ${skipped[0]?.problem}`);
    const s = JSON.parse(r.stdout) as { start_step: number; steps: number };
    assert.deepEqual([s.start_step, s.steps], [2, 6], d.name);
    assert.equal(newestValidCheckpoint(runDir)?.step, 6, `${d.name}: the damaged step was written again`);
  }
});

/** Mounts a tmpfs of `size` at `dir`; the reason it cannot, else undefined. */
function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: mounting the tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

test('a checkpoint folder on a full filesystem: the run stops with one clear line, leaves no partial folder, and the previous checkpoint loads', { timeout: 300_000 }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-ckpt-full-'));
  const checkpoints = path.join(runDir, 'checkpoints');
  mkdirSync(checkpoints);
  // a t5-tiny checkpoint is ~60 MB (model 20 MB, AdamW moments 40 MB): room for one, not two
  const why = mountTmpfs(checkpoints, '100m');
  t.after(() => {
    if (!why) execFileSync('umount', [checkpoints]);
    rmSync(runDir, { recursive: true, force: true });
  });
  if (why) { t.skip(`${why}; run this test as root to check a failing checkpoint write`); return; }
  const r = await cli([...COMMON, '--steps', '6', '--run-dir', runDir]);
  assert.equal(r.code, 1, r.stderr);
  const line = r.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(line, new RegExp(`^coordinator: checkpoint ${checkpointDir(runDir, 4)} could not be written: ENOSPC: no space left on device`));
  assert.match(line, new RegExp(`Training stopped at step 4; the newest good checkpoint, ${checkpointDir(runDir, 2)} \\(step 2\\), is intact`));
  assert.equal(r.stdout, '', 'no summary: the run did not finish');
  assert.deepEqual(readdirSync(checkpoints), ['step-00000002'], 'the partial folder is gone');
  assert.equal(newestValidCheckpoint(runDir)?.step, 2);
  const ck = await loadTrainingCheckpoint(checkpointDir(runDir, 2));
  assert.equal(ck.state.step, 2);
  assert.ok(!existsSync(checkpointDir(runDir, 4)));
});
