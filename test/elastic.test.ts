/**
 * A worker lost mid-run, with real processes: `coordinator start` and its worker processes, one of
 * them SIGKILLed after a few steps. Above cluster.minWorkers the survivors re-form the ring and redo
 * the interrupted step (same trajectory); below it the run checkpoints and stops naming the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { NatsServer } from '../shared/runtime/telemetry/nats_server.js';
import { replayEvents } from '../shared/runtime/telemetry/events.js';
import type { RunEvent } from '../shared/runtime/telemetry/payloads.js';
import { newestValidCheckpoint } from '../coordinator/cluster/checkpoints.js';
import { CLI, cli, LogWatcher } from './run_cli.js';

// 12 splits over 3 and 2 workers; t5-tiny has no dropout, so worker counts differ only in summation order
const COMMON = ['start', '--batch-size', '12', '--lr', '1e-3', '--warmup-steps', '5', '--log-every', '1', '--max-queries', '4', '--json', '--metrics-port', '-1'];
const STEPS = 10, KILL_AFTER = 3;
/** Every wait below ends: a hung run fails the test instead of blocking the suite. */
const RUN_TIMEOUT_MS = 180_000;

interface Summary {
  run_id: string; steps: number; losses: number[]; world_size: number; final_world_size: number; checkpoint: string;
  rejoined_workers: Array<{ worker_id: string; step: number; world_size: number }>; worker_restarts: number;
  examples: { examples_applied: number; examples_lost: number; examples_repeated: number };
  lost_workers: Array<{ worker_id: string; rank: number; step: number; reason: string; world_size: number }>;
  workers: Array<{ rank: number; worker_id: string; samples_per_s: number; tokens_per_s: number }>;
}

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-elastic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs `coordinator start` and sends `signal` to worker `workerId` once the coordinator logged step
 * KILL_AFTER; `then` runs after the signal with the worker's pid.
 */
async function runAndSignal(
  args: string[], workerId = 'local-001', signal: NodeJS.Signals = 'SIGKILL', then?: (log: LogWatcher, pid: number) => Promise<void>,
): Promise<{ code: number | null; stdout: string; log: LogWatcher; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, ...COMMON, ...args], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'info' } });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  let stdout = '', stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const log = new LogWatcher(child);
  const started = await log.until((l) => l.msg === 'worker process started' && l['workerId'] === workerId);
  await log.until((l) => l.msg === 'step' && (l['step'] as number) >= KILL_AFTER);
  process.kill(started['pid'] as number, signal);
  await then?.(log, started['pid'] as number);
  const code = await exited;
  clearTimeout(timer);
  return { code, stdout, log, stderr: () => stderr };
}

test('3 workers, one SIGKILLed mid-run: the run finishes every step with 2, on the uninterrupted trajectory (losses within 1e-3 relative)', { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
  const dir = tmp(t);
  const nats = await NatsServer.start();
  t.after(() => nats.close());
  const straight = await cli([...COMMON, '--workers', '3', '--steps', String(STEPS), '--no-nats', '--run-dir', path.join(dir, 'straight')]);
  assert.equal(straight.code, 0, straight.stderr);
  const want = JSON.parse(straight.stdout) as Summary;

  const r = await runAndSignal(['--workers', '3', '--steps', String(STEPS), '--nats-url', nats.url, '--run-dir', path.join(dir, 'killed')]);
  assert.equal(r.code, 0, r.stderr().slice(-4000));
  const got = JSON.parse(r.stdout) as Summary;
  assert.equal(got.steps, STEPS);
  assert.equal(got.losses.length, STEPS);
  want.losses.forEach((l, i) => assert.ok(Math.abs(l - (got.losses[i] as number)) < 1e-3 * Math.abs(l), `step ${i + 1}: loss ${l} uninterrupted vs ${got.losses[i]} after the loss`));
  assert.equal(got.world_size, 3);
  assert.equal(got.final_world_size, 2);
  assert.equal(got.lost_workers.length, 1);
  const lost = got.lost_workers[0];
  assert.equal(lost?.worker_id, 'local-001');
  assert.equal(lost?.world_size, 2);
  assert.ok((lost?.step ?? 0) > KILL_AFTER && (lost?.step ?? 0) <= STEPS, `lost at step ${lost?.step}`);
  // the survivors, ranked 0..1 in the new ring, still report their throughput
  assert.deepEqual(got.workers.map((w) => [w.rank, w.worker_id]), [[0, 'local-000'], [1, 'local-002']]);
  for (const w of got.workers) assert.ok(w.samples_per_s > 0 && w.tokens_per_s > 0);
  const reformed = r.log.lines.find((l) => l.msg === 'ring re-formed');
  assert.equal(reformed?.['worldSize'], 2);
  assert.equal(reformed?.['epoch'], 1);

  // the run events say who was lost at which step, and the new ring
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const events: RunEvent[] = [];
  for await (const e of replayEvents(nc, got.run_id)) events.push(e);
  const left = events.find((e) => e.type === 'worker_left' && e.workerId === 'local-001');
  assert.ok(left?.type === 'worker_left' && left.step === lost?.step && left.worldSize === 2, JSON.stringify(left));
  const rings = events.filter((e) => e.type === 'ring_formed');
  assert.deepEqual(rings.map((e) => (e.type === 'ring_formed' ? [e.epoch, e.ring.map((m) => m.workerId)] : [])),
    [[0, ['local-000', 'local-001', 'local-002']], [1, ['local-000', 'local-002']]]);
});

test('below cluster.minWorkers: the run checkpoints the last consistent step and stops naming the lost worker; the checkpoint resumes', { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
  const dir = tmp(t);
  const runDir = path.join(dir, 'run');
  const r = await runAndSignal(['--workers', '2', '--min-workers', '2', '--steps', String(STEPS), '--checkpoint-every', '100', '--no-nats', '--run-dir', runDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr(), /1 of 2 workers left, fewer than cluster\.minWorkers 2; lost local-001 \(rank 1\) at step \d+/);
  assert.equal(r.stdout, '');
  const lostAt = r.log.lines.find((l) => l.msg === 'worker lost')?.['step'] as number;
  assert.ok(lostAt > KILL_AFTER, `lost at step ${lostAt}`);
  // the survivor re-formed at the interrupted step's start: that state was checkpointed, and it is valid
  const found = newestValidCheckpoint(runDir);
  assert.equal(found?.step, lostAt - 1);
  assert.deepEqual(found?.skipped, []);
  const resumed = await cli([...COMMON, '--workers', '1', '--steps', String(lostAt + 1), '--no-nats', '--run-dir', runDir, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const s = JSON.parse(resumed.stdout) as Summary;
  assert.equal(s.steps, lostAt + 1);
  assert.equal(s.losses.length, lostAt + 1);
});

test('a hung worker (SIGSTOP): its ring neighbours time out, the coordinator drops it and goes on with 2; woken up, it is told it was dropped', { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
  const dir = tmp(t);
  // liveness = 10 heartbeats + the ring timeout: the neighbours' ring timeout names it first
  const r = await runAndSignal(['--workers', '3', '--steps', String(STEPS), '--ring-timeout-ms', '3000', '--heartbeat-ms', '200', '--no-nats', '--run-dir', path.join(dir, 'run')],
    'local-002', 'SIGSTOP', async (log, pid) => {
      await log.until((l) => l.msg === 'worker lost' && l['workerId'] === 'local-002');
      process.kill(pid, 'SIGCONT');
    });
  assert.equal(r.code, 0, r.stderr().slice(-4000));
  const got = JSON.parse(r.stdout) as Summary;
  assert.equal(got.steps, STEPS);
  assert.equal(got.final_world_size, 2);
  assert.deepEqual(got.lost_workers.map((l) => l.worker_id), ['local-002']);
  assert.match(got.lost_workers[0]?.reason ?? '', /heard nothing from it for 3000 ms|no heartbeat for/);
  assert.deepEqual(got.workers.map((w) => w.worker_id), ['local-000', 'local-001']);
  // woken up, the dropped worker reads why on its Control stream and stops instead of training on alone
  const stop = r.log.lines.find((l) => l.msg === 'stop' && l['workerId'] === 'local-002');
  assert.match(String(stop?.['reason']), /^dropped: /);
});

test('re-join: a SIGKILLed worker restarted by --max-restarts comes back at a step boundary with the current state, the survivors waiting for it; the ring is back to 3 and the losses are bit-equal to the uninterrupted run\'s', { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
  const dir = tmp(t);
  const steps = 14;
  const straight = await cli([...COMMON, '--workers', '3', '--steps', String(steps), '--no-nats', '--run-dir', path.join(dir, 'straight')]);
  assert.equal(straight.code, 0, straight.stderr);
  const want = JSON.parse(straight.stdout) as Summary;
  const r = await runAndSignal(['--workers', '3', '--steps', String(steps), '--max-restarts', '1', '--no-nats', '--run-dir', path.join(dir, 'rejoined')]);
  assert.equal(r.code, 0, r.stderr().slice(-4000));
  const got = JSON.parse(r.stdout) as Summary;
  assert.equal(got.steps, steps);
  // the survivors waited for the restarted worker (cluster.restartWaitMs): every step ran on the ring of 3, bit-equal
  assert.deepEqual(got.losses, want.losses);
  assert.deepEqual(got.lost_workers.map((l) => [l.worker_id, l.world_size]), [['local-001', 2]]);
  assert.equal(got.worker_restarts, 1);
  assert.equal(got.rejoined_workers.length, 1, JSON.stringify(got.rejoined_workers));
  const back = got.rejoined_workers[0];
  assert.equal(back?.worker_id, 'local-001');
  assert.equal(back?.world_size, 3);
  assert.equal(back?.step, got.lost_workers[0]?.step, 'back for the very step it was lost in: no step ran on the ring of 2');
  // the ring is back to its original size, the re-joined worker in it with its old rank
  assert.equal(got.final_world_size, 3);
  assert.deepEqual(got.workers.map((w) => [w.rank, w.worker_id]), [[0, 'local-000'], [1, 'local-001'], [2, 'local-002']]);
  const grown = r.log.lines.filter((l) => l.msg === 'ring re-formed').map((l) => l['worldSize']);
  assert.deepEqual(grown, [2, 3]);
  // every example position of every step applied exactly once, as the ranks reported them
  assert.deepEqual(got.examples, { examples_applied: steps * 12, examples_lost: 0, examples_repeated: 0 });
});
