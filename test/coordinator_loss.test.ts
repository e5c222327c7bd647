/**
 * The coordinator dies or hangs, with real processes: `coordinator start --no-spawn-workers` and two
 * `worker` processes this test starts. Hung (SIGSTOP): the workers wait cluster.coordinatorTimeoutMs,
 * try to join again for as long, and exit 75 naming the coordinator. Killed and restarted with
 * --resume=auto at the same address: the workers join the restarted coordinator and finish the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { COORDINATOR_LOST_EXIT_CODE } from '../worker/coordinator_watch.js';
import { CLI, LogWatcher } from './run_cli.js';

const WORKER_CLI = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');
const RUN_TIMEOUT_MS = 240_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Proc { child: ChildProcess; log: LogWatcher; exited: Promise<number | null>; stdout: () => string; stderr: () => string }

function start(file: string, args: string[], t: { after(fn: () => void): void }): Proc {
  const child = spawn(process.execPath, [file, ...args], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'info' } });
  let stdout = '', stderr = '';
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  t.after(() => { clearTimeout(timer); if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, log: new LogWatcher(child), exited, stdout: () => stdout, stderr: () => stderr };
}

function coordinatorArgs(runDir: string, port: number, steps: number): string[] {
  return ['start', '--workers', '2', '--no-spawn-workers', '--port', String(port), '--steps', String(steps), '--batch-size', '8', '--heartbeat-ms', '200',
    '--metrics-port', '-1', '--no-nats', '--no-timeline', '--run-dir', runDir, '--checkpoint-every', '2', '--log-every', '1', '--max-queries', '2', '--json', '--resume=auto'];
}

function workers(port: number, timeoutMs: number, t: { after(fn: () => void): void }): Proc[] {
  return ['w-a', 'w-b'].map((id) => start(WORKER_CLI, ['--coordinator', `127.0.0.1:${port}`, '--worker-id', id, '--coordinator-timeout-ms', String(timeoutMs)], t));
}

test('a hung coordinator (SIGSTOP): the workers give up after the configured wait and exit 75 naming it', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-coord-hung-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const port = await freePort();
  const coordinator = start(CLI, coordinatorArgs(runDir, port, 200), t);
  const [a, b] = workers(port, 3000, t) as [Proc, Proc];
  await coordinator.log.until((l) => l.msg === 'step' && (l['step'] as number) >= 2);
  coordinator.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  t.after(() => coordinator.child.kill('SIGKILL'));
  const codes = await Promise.all([a.exited, b.exited]);
  const waited = Date.now() - stoppedAt;
  assert.deepEqual(codes, [COORDINATOR_LOST_EXIT_CODE, COORDINATOR_LOST_EXIT_CODE], a.stderr().slice(-2000));
  for (const w of [a, b]) {
    // first it waits and tries again; then one line says why it gives up
    assert.ok(w.log.lines.some((l) => l.msg === 'coordinator lost: joining again when it is back' && /no answer for \d+ ms \(cluster\.coordinatorTimeoutMs 3000\)/.test(String(l['reason']))));
    assert.match(w.stderr(), new RegExp(`worker: cannot reach the coordinator at 127\\.0\\.0\\.1:${port} within 3000 ms: .*; exiting 75 \\(coordinator lost\\)`));
  }
  // bounded: the step in flight, the wait (3 s) and the join attempts (3 s), with room for a loaded machine
  assert.ok(waited < 60_000, `the workers took ${waited} ms to give up`);
});

test('a killed coordinator restarted with --resume=auto: the waiting workers join it again and the run finishes from the checkpoint', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-coord-killed-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const port = await freePort();
  const first = start(CLI, coordinatorArgs(runDir, port, 8), t);
  const [a, b] = workers(port, 60_000, t) as [Proc, Proc];
  await first.log.until((l) => l.msg === 'checkpoint written' && l['step'] === 2);
  await first.log.until((l) => l.msg === 'step' && (l['step'] as number) >= 3);
  first.child.kill('SIGKILL');
  await first.exited;
  for (const w of [a, b]) await w.log.until((l) => l.msg === 'coordinator lost: joining again when it is back');
  const second = start(CLI, coordinatorArgs(runDir, port, 8), t);
  const [code, codeA, codeB] = await Promise.all([second.exited, a.exited, b.exited]);
  assert.equal(code, 0, second.stderr().slice(-2000));
  assert.deepEqual([codeA, codeB], [0, 0]);
  const s = JSON.parse(second.stdout()) as { start_step: number; steps: number; final_world_size: number; losses: number[] };
  assert.ok(s.start_step >= 2 && s.start_step < 8, `resumed at ${s.start_step}`);
  assert.equal(s.steps, 8);
  assert.equal(s.final_world_size, 2);
  assert.equal(s.losses.length, 8);
  for (const w of [a, b]) assert.equal(w.log.lines.filter((l) => l.msg === 'joined').length, 2, 'joined the first coordinator, then the restarted one');
});

test('workers spawned by coordinator start exit 75 at once when it is killed (a restarted coordinator spawns its own)', { timeout: RUN_TIMEOUT_MS }, async (t) => {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'dsi-coord-spawned-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const args = coordinatorArgs(runDir, 0, 200).filter((a) => a !== '--no-spawn-workers');
  const coordinator = start(CLI, args, t);
  const pids = await Promise.all(['local-000', 'local-001'].map(async (id) =>
    (await coordinator.log.until((l) => l.msg === 'worker process started' && l['workerId'] === id))['pid'] as number));
  await coordinator.log.until((l) => l.msg === 'step' && (l['step'] as number) >= 2);
  coordinator.child.kill('SIGKILL');
  const killedAt = Date.now();
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
  while (pids.some(alive) && Date.now() - killedAt < 60_000) await new Promise((r) => setTimeout(r, 200));
  t.after(() => { for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL'); });
  assert.deepEqual(pids.filter(alive), [], 'the spawned workers exited');
  // their stderr is the coordinator's: each said why, with the exit code
  await new Promise((r) => setTimeout(r, 200));
  const lost = coordinator.log.lines.filter((l) => l.msg === `coordinator lost: exiting ${COORDINATOR_LOST_EXIT_CODE}`);
  assert.equal(lost.length, 2, coordinator.stderr().slice(-2000));
  for (const l of lost) assert.match(String(l['reason']), /is lost at step \d+: its control stream broke/);
  assert.ok(Date.now() - killedAt < 30_000, 'at once, not after the coordinator timeout');
});
