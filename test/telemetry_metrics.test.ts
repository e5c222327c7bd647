/**
 * The coordinator's /metrics during a real 2-worker run (telemetry over the gRPC heartbeats,
 * --no-nats), scraped once both ranks have finished step 3, and checked by Prometheus's own
 * `promtool check metrics` (Debian package prometheus).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { LogWatcher } from './run_cli.js';

const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const STEPS = 12;
const ARGS = ['--batch-size', '8', '--lr', '1e-3', '--warmup-steps', '2', '--log-every', '1', '--max-queries', '4', '--json', '--log-level', 'info', '--checkpoint-every', '0'];

/** Value of one sample line `name{labels} value`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics during a 2-worker run: per-rank counters in base units, and promtool check metrics passes', async (t) => {
  const promtool = spawnSync('promtool', ['--version']);
  assert.equal(promtool.error, undefined, 'promtool is missing: apt-get install -y prometheus');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'start', ...ARGS, '--workers', '2', '--steps', String(STEPS), '--no-nats', '--metrics-port', '0', '--run-dir', path.join(dir, 'run')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // the metrics URL, then the progress line of step 3 (logged once every rank reported step 3)
  const logs = new LogWatcher(child);
  const url = String((await logs.until((l) => l.msg.startsWith('serving /metrics') && typeof l['url'] === 'string'))['url']);
  await logs.until((l) => l.msg === 'step' && Number(l['step'] ?? 0) >= 3);
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'promtool lint findings');

  for (const rank of ['0', '1']) {
    const steps = sample(text, `dsi_worker_steps_total{rank="${rank}"}`) ?? 0;
    assert.ok(steps >= 3, `rank ${rank}: dsi_worker_steps_total ${steps}`);
    assert.equal(sample(text, `dsi_worker_samples_total{rank="${rank}"}`), steps * 4);   // 4 examples per step on each of 2 ranks
    for (const phase of ['data', 'forward_backward', 'all_reduce_waiting', 'all_reduce', 'optimizer'])
      assert.ok((sample(text, `dsi_worker_step_phase_seconds_total{rank="${rank}",phase="${phase}"}`) ?? -1) >= 0, `rank ${rank} phase ${phase}`);
    const fb = sample(text, `dsi_worker_step_phase_seconds_total{rank="${rank}",phase="forward_backward"}`) ?? 0;
    const total = sample(text, `dsi_worker_step_duration_seconds_sum{rank="${rank}"}`) ?? 0;
    assert.ok(fb > 0 && fb < total, `forward+backward ${fb} s within the step time ${total} s (seconds, not milliseconds)`);
    assert.equal(sample(text, `dsi_worker_step_duration_seconds_count{rank="${rank}"}`), steps);
    assert.ok((sample(text, `dsi_worker_allreduce_sent_bytes_total{rank="${rank}"}`) ?? 0) > 0);
  }
  assert.match(text, /^dsi_run_info\{run_id="[0-9a-f]{8}",telemetry="grpc"\} 1$/m);
  assert.equal(sample(text, 'dsi_run_world_size'), 2);
  assert.equal(sample(text, 'dsi_run_workers_joined'), 2);

  assert.equal(await exited, 0);
  const summary = JSON.parse(stdout) as { steps: number; telemetry: { mode: string; received: { grpc: number; nats: number }; metrics_url: string } };
  assert.equal(summary.steps, STEPS);
  assert.equal(summary.telemetry.mode, 'grpc');
  assert.equal(summary.telemetry.metrics_url, url);
  assert.deepEqual(summary.telemetry.received, { nats: 0, grpc: 2 * STEPS });
});
