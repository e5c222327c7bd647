/**
 * The data-parallel cluster as a user runs it: `coordinator start` with real worker processes,
 * real gRPC between them, real checkpoint folders. Small batches keep it to seconds per run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { readSafetensors } from '../shared/model/safetensors.js';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
// a short schedule on the bundled sample; dropout is 0 in t5-tiny, so workers differ only in summation order
const COMMON = ['--batch-size', '8', '--lr', '1e-3', '--warmup-steps', '5', '--log-every', '1', '--max-queries', '4', '--json', '--log-level', 'warn'];

interface Summary { steps: number; losses: number[]; checkpoint: string; workers: Array<{ rank: number; samples_per_s: number; tokens_per_s: number }>; world_size: number; start_step: number }

async function start(args: string[]): Promise<Summary> {
  const every = args.includes('--checkpoint-every') ? [] : ['--checkpoint-every', '5'];
  const r = await run(process.execPath, [CLI, 'start', ...COMMON, ...every, ...args], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(r.stdout) as Summary;
}

async function params(checkpoint: string): Promise<Float32Array> {
  const { tensors } = await readSafetensors(path.join(checkpoint, 'model.safetensors'));
  const parts = [...tensors.values()].map((t) => t.data as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** ||a - b|| / ||a||: element-wise maxima are meaningless under AdamW, which turns a tiny gradient's sign into a full step. */
function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += ((a[i] as number) - (b[i] as number)) ** 2; n += (a[i] as number) ** 2; }
  return Math.sqrt(d / n);
}

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('4 workers follow the 1-worker trajectory: 20 steps, same global batch (losses within 1e-3 relative, weights within 1e-4 in relative L2)', async (t) => {
  const dir = tmp(t);
  const one = await start(['--workers', '1', '--steps', '20', '--run-dir', path.join(dir, 'one')]);
  const four = await start(['--workers', '4', '--steps', '20', '--run-dir', path.join(dir, 'four')]);
  assert.equal(four.world_size, 4);
  assert.deepEqual(four.workers.map((w) => w.rank), [0, 1, 2, 3]);
  for (const w of four.workers) assert.ok(w.samples_per_s > 0 && w.tokens_per_s > 0);
  assert.equal(one.losses.length, 20);
  one.losses.forEach((l, i) => assert.ok(Math.abs(l - (four.losses[i] as number)) < 1e-3 * Math.abs(l), `step ${i + 1}: loss ${l} (1 worker) vs ${four.losses[i]} (4 workers)`));
  assert.ok((one.losses[19] as number) < (one.losses[0] as number));
  const d = relL2(await params(one.checkpoint), await params(four.checkpoint));
  assert.ok(d < 1e-4, `relative L2 weight difference ${d}`);
});

test('gradient buckets reduced during the backward pass (every parameter its own bucket): 2 workers end bit-identical to one all-reduce after it', async (t) => {
  const dir = tmp(t);
  const whole = await start(['--workers', '2', '--steps', '8', '--bucket-bytes', '0', '--checkpoint-every', '8', '--run-dir', path.join(dir, 'whole')]);
  const buckets = await start(['--workers', '2', '--steps', '8', '--bucket-bytes', '4', '--checkpoint-every', '8', '--run-dir', path.join(dir, 'buckets')]);
  assert.equal(buckets.losses.length, 8);
  assert.deepEqual(buckets.losses, whole.losses);
  assert.deepEqual(await params(buckets.checkpoint), await params(whole.checkpoint));
});

test('interrupted with SIGINT, resumed: ends bit-identical to an uninterrupted run; 2 workers resume a 4-worker checkpoint', async (t) => {
  const dir = tmp(t);
  const straight = await start(['--workers', '2', '--steps', '12', '--run-dir', path.join(dir, 'straight')]);

  // the same run, stopped by SIGINT once it has checkpointed at step 5: it finishes its step, checkpoints, exits 0
  const runDir = path.join(dir, 'stopped');
  const child = spawn(process.execPath, [CLI, 'start', ...COMMON.filter((a) => a !== '--log-level' && a !== 'warn'), '--checkpoint-every', '5', '--workers', '2', '--steps', '12', '--run-dir', runDir], { cwd: REPO_ROOT });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  let signalled = false;
  child.stderr.on('data', (b: Buffer) => {
    if (!signalled && b.toString().includes('"msg":"checkpoint written"')) { signalled = true; child.kill('SIGINT'); }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  const stopped = JSON.parse(stdout) as Summary & { interrupted: boolean };
  assert.equal(stopped.interrupted, true);
  assert.ok(stopped.steps >= 5 && stopped.steps < 12, `stopped at ${stopped.steps}`);

  const resumed = await start(['--workers', '2', '--steps', '12', '--run-dir', runDir, '--resume']);
  assert.equal(resumed.start_step, stopped.steps);
  assert.equal(resumed.steps, 12);
  assert.deepEqual(resumed.losses, straight.losses);
  assert.deepEqual(await params(resumed.checkpoint), await params(straight.checkpoint));

  // a 4-worker run resumed by 2 workers continues on the same trajectory
  const fourDir = path.join(dir, 'four');
  await start(['--workers', '4', '--steps', '6', '--checkpoint-every', '3', '--run-dir', fourDir]);
  const two = await start(['--workers', '2', '--steps', '12', '--run-dir', fourDir, '--resume']);
  assert.equal(two.start_step, 6);
  assert.equal(two.world_size, 2);
  assert.equal(two.losses.length, 12);
  assert.ok((two.losses[11] as number) < (two.losses[0] as number));
});
