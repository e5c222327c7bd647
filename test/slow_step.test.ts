/**
 * A step far longer than the liveness window, with real processes: the compute thread of each
 * worker is made to block for several liveness windows inside every step (the test hook
 * cluster.testHookStepSleepMs, a synchronous sleep like a long wasm step). The main thread keeps
 * heartbeating meanwhile, so nobody is dropped and no all-reduce fails; a worker that stops
 * answering (SIGSTOP) is still dropped within the timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { CLI, LogWatcher, type LogLine } from './run_cli.js';

// heartbeats every 100 ms; liveness = 10 heartbeats + the ring timeout = 6,000 ms (run_cluster.ts). The
// ring timeout leaves room for the two ranks to reach the all-reduce seconds apart on a loaded machine
const HEARTBEAT_MS = 100, RING_TIMEOUT_MS = 5000, LIVENESS_MS = 10 * HEARTBEAT_MS + RING_TIMEOUT_MS;
const COMMON = ['start', '--workers', '2', '--batch-size', '4', '--log-every', '1', '--max-queries', '2', '--json', '--metrics-port', '-1', '--no-nats',
  '--checkpoint-every', '0', '--heartbeat-ms', String(HEARTBEAT_MS), '--ring-timeout-ms', String(RING_TIMEOUT_MS)];
const RUN_TIMEOUT_MS = 240_000;

interface Summary { steps: number; final_world_size: number; lost_workers: Array<{ worker_id: string; reason: string; step: number }> }

function start(args: string[], t: { after(fn: () => void): void }): { log: LogWatcher; exited: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-slow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, ...COMMON, ...args, '--run-dir', path.join(dir, 'run')], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'info' } });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  let stdout = '', stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const log = new LogWatcher(child);
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); }));
  return { log, exited };
}

const failures = (lines: LogLine[]): LogLine[] => lines.filter((l) => ['worker lost', 'ring failure reported', 'all-reduce failed: step aborted, waiting for a new ring', 'heartbeat failed'].includes(l.msg));

test('2 workers, every step 3x the liveness window (compute thread blocked): nobody dropped, no all-reduce fails, heartbeats say "computing" during the step', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const SLEEP_MS = 3 * LIVENESS_MS, STEPS = 2;
  const r = start(['--steps', String(STEPS), '--test-hook-step-sleep-ms', String(SLEEP_MS)], t);
  const { code, stdout, stderr } = await r.exited;
  assert.equal(code, 0, stderr.slice(-4000));
  const got = JSON.parse(stdout) as Summary;
  assert.deepEqual(got.lost_workers, []);
  assert.equal(got.steps, STEPS);
  assert.equal(got.final_world_size, 2);
  assert.deepEqual(failures(r.log.lines).map((l) => `${l.msg}: ${JSON.stringify(l)}`), []);
  // each worker's heartbeats arrived while its step was computing, past the liveness window, at every step
  const slow = r.log.lines.filter((l) => l.msg.startsWith('slow step: computing step '));
  for (const w of ['local-000', 'local-001'])
    for (let step = 1; step <= STEPS; step++) {
      const line = slow.find((l) => l['workerId'] === w && l['step'] === step);
      assert.ok(line, `no 'slow step' line for ${w} at step ${step}: its heartbeats did not come during the step`);
      assert.equal(line['phase'], 'STEP_PHASE_COMPUTE');
      assert.ok((line['elapsedMs'] as number) > LIVENESS_MS, JSON.stringify(line));
    }
});

test('2 workers with slow steps, one SIGSTOPped mid-step: dropped within the liveness timeout; the other finishes the run alone', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const SLEEP_MS = LIVENESS_MS + 1000, STEPS = 3;
  const r = start(['--steps', String(STEPS), '--test-hook-step-sleep-ms', String(SLEEP_MS), '--min-workers', '1'], t);
  const started = await r.log.until((l) => l.msg === 'worker process started' && l['workerId'] === 'local-001');
  await r.log.until((l) => l.msg === 'step' && (l['step'] as number) >= 1);
  const pid = started['pid'] as number;
  process.kill(pid, 'SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await r.log.until((l) => l.msg === 'worker lost' && l['workerId'] === 'local-001');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const tookMs = Date.now() - stoppedAt;
  // the liveness check runs every heartbeat; allow a second for a loaded machine on top
  assert.ok(tookMs < LIVENESS_MS + 1000, `dropped ${tookMs} ms after SIGSTOP (liveness timeout ${LIVENESS_MS} ms)`);
  const { code, stdout, stderr } = await r.exited;
  assert.equal(code, 0, stderr.slice(-4000));
  const got = JSON.parse(stdout) as Summary;
  assert.equal(got.steps, STEPS);
  assert.equal(got.final_world_size, 1);
  assert.deepEqual(got.lost_workers.map((l) => l.worker_id), ['local-001']);
  assert.match(got.lost_workers[0]?.reason ?? '', /no heartbeat for \d+ ms \(last heard: (computing|idle after|all-reducing|applying) step \d+ for \d+ ms\)|heard nothing from it for 5000 ms/);
});
