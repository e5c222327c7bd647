/**
 * Who may take part in a run, with real processes: a coordinator with a join token, real `worker`
 * processes with a wrong, a missing and the right token, and forged calls (a member's worker id
 * without its membership secret) while the run waits and while it trains. The attacked run must
 * end with exactly the weights of a run nobody attacked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { readSafetensors } from '../shared/model/safetensors.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import { cli, LogWatcher } from './run_cli.js';

const COORDINATOR = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const WORKER = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');
const RUN = ['--steps', '6', '--batch-size', '8', '--lr', '1e-3', '--warmup-steps', '2', '--checkpoint-every', '3', '--log-every', '1', '--max-queries', '4', '--no-nats', '--json'];

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-security-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A process's exit code, stdout and stderr. */
function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function worker(address: string, id: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [WORKER, '--coordinator', address, '--worker-id', id, '--join-timeout-ms', '20000', '--log-level', 'info', ...args], { cwd: REPO_ROOT });
}

async function weights(checkpoint: string): Promise<Float32Array[]> {
  const { tensors } = await readSafetensors(path.join(checkpoint, 'model.safetensors'));
  return [...tensors.values()].map((t) => t.data as Float32Array);
}

/** Forged calls as `workerId` with `secret` (wrong or empty): each must be refused, none may change the run. */
async function forge(client: CoordinatorClient, runId: string, workerId: string, secret: Buffer): Promise<Array<grpc.ServiceError | null>> {
  const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + 5_000 });
  const heartbeat = new Promise<grpc.ServiceError | null>((resolve) => client.heartbeat({
    runId, workerId, rank: 0, step: 6, ringEpoch: 0, paramChecksum: 'deadbeef:1', lossScale: 1, memberSecret: secret,
    ringFailure: { neighbourRank: 1, timedOut: true, reason: 'forged: rank 1 is silent' },
  }, deadline(), (e) => resolve(e)));
  const leave = new Promise<grpc.ServiceError | null>((resolve) => client.leave({ runId, workerId, reason: 'forged', memberSecret: secret }, deadline(), (e) => resolve(e)));
  const upload = new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.uploadState(deadline(), (e) => resolve(e));
    call.write({
      runId, checkpointId: `${runId}-checkpoint-3`, workerId, rank: 0, step: 3, part: 'STATE_PART_WEIGHTS', tensorName: 'params', shape: [256],
      dtype: 'TENSOR_DTYPE_FLOAT32', offsetBytes: 0, data: Buffer.alloc(1024), lastChunk: true, lastOfUpload: true, memberSecret: secret,
    });
    call.end();
  });
  // a Control stream in its name would receive its commands (and hide them from it)
  const control = new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.control({ runId, workerId, rank: 0, memberSecret: secret });
    call.on('data', () => resolve(null));
    call.on('error', (e: grpc.ServiceError) => resolve(e));
  });
  return Promise.all([heartbeat, leave, upload, control]);
}

test('join token and membership secrets: wrong and missing tokens refused (exit 1, counted, token never shown); forged Heartbeat, Leave, UploadState, Control refused; the run ends with the weights of an unattacked run', { timeout: 240_000 }, async (t) => {
  const dir = tmp(t);
  const token = randomBytes(24).toString('base64');
  const tokenFile = path.join(dir, 'join-token'), wrongFile = path.join(dir, 'wrong-token'), metricsFile = path.join(dir, 'metrics-token');
  writeFileSync(tokenFile, `${token}\n`);
  writeFileSync(wrongFile, `${randomBytes(24).toString('base64')}\n`);
  const metricsToken = randomBytes(24).toString('hex');
  writeFileSync(metricsFile, metricsToken);

  // the reference: the same run, local workers (they get the token from the run's config), nobody attacking
  const ref = await cli(['start', '--workers', '2', ...RUN, '--join-token-file', tokenFile, '--run-dir', path.join(dir, 'ref')]);
  assert.equal(ref.code, 0, ref.stderr);
  const refSummary = JSON.parse(ref.stdout) as { checkpoint: string; steps: number };
  assert.equal(refSummary.steps, 6);

  const coordinator = spawn(process.execPath, [COORDINATOR, 'start', '--workers', '2', '--no-spawn-workers', ...RUN, '--join-token-file', tokenFile,
    '--metrics-token-file', metricsFile, '--run-dir', path.join(dir, 'attacked'), '--log-level', 'info'], { cwd: REPO_ROOT });
  t.after(() => coordinator.kill('SIGKILL'));
  const log = new LogWatcher(coordinator);
  const done = exited(coordinator);
  const listening = await log.until((l) => l.msg === 'coordinator listening');
  const address = String(listening['address']), runId = String(listening['runId']);
  const metricsUrl = String((await log.until((l) => l.msg.startsWith('serving /metrics')))['metrics']);

  // 1) workers with a wrong or no token: refused, named, exit 1; the token appears nowhere
  const wrong = await exited(worker(address, 'wrong', ['--join-token-file', wrongFile]));
  const missing = await exited(worker(address, 'missing', []));
  for (const [w, why] of [[wrong, /join_token: is not the run's join token/], [missing, /join_token: is missing: this run needs --join-token-file/]] as const) {
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, why);
    assert.ok(!w.stderr.includes(token), 'the token is not in the worker\'s output');
  }
  const refusals = log.lines.filter((l) => l.msg === 'join refused');
  assert.deepEqual(refusals.map((l) => l['field']), ['join_token', 'join_token']);
  assert.ok(refusals.every((l) => /127\.0\.0\.1/.test(String(l['peer']))), 'logged with the peer address');

  // 2) forged calls in the name of a member, before the run starts and while it trains
  const a = worker(address, 'good-a', ['--join-token-file', tokenFile]);
  const aDone = exited(a);
  await log.until((l) => l.msg === 'worker joined' && l['workerId'] === 'good-a');
  const client = new (loadProtos().grpc.dsi.v1.Coordinator)(address, grpc.credentials.createInsecure()) as CoordinatorClient;
  t.after(() => client.close());
  const codes = (es: Array<grpc.ServiceError | null>): Array<string | undefined> => es.map((e) => (e ? grpc.status[e.code] : 'accepted'));
  assert.deepEqual(codes(await forge(client, runId, 'good-a', randomBytes(32))), ['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
  assert.deepEqual(codes(await forge(client, runId, 'good-a', Buffer.alloc(0))), ['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
  const b = worker(address, 'good-b', ['--join-token-file', tokenFile]);
  const bDone = exited(b);
  await log.until((l) => l.msg === 'step' && l['step'] === 1);
  assert.deepEqual(codes(await forge(client, runId, 'good-a', randomBytes(32))), ['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);

  // 3) /metrics: closed without the token; counts the refusals with it; a browser gets a cookie from /?token=
  assert.equal((await fetch(metricsUrl)).status, 401);
  const metrics = await (await fetch(metricsUrl, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
  assert.match(metrics, /dsi_coordinator_refused_calls_total\{method="Join",reason="JOIN_REFUSAL_UNAUTHENTICATED"\} 2/);
  assert.match(metrics, /dsi_coordinator_refused_calls_total\{method="Heartbeat",reason="UNAUTHENTICATED"\} 2/);
  assert.match(metrics, /dsi_coordinator_refused_calls_total\{method="UploadState",reason="UNAUTHENTICATED"\} 2/);
  const base = metricsUrl.replace(/\/metrics$/, '');
  const login = await fetch(`${base}/?token=${metricsToken}`, { redirect: 'manual' });
  assert.equal(login.status, 303);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  assert.match(login.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
  assert.equal((await fetch(`${base}/api/workers`, { headers: { cookie } })).status, 200);
  assert.equal((await fetch(`${base}/?token=wrong-token-wrong-token`, { redirect: 'manual' })).status, 401);

  // the run goes on with its members and ends as if nobody had attacked it
  const [end, endA, endB] = await Promise.all([done, aDone, bDone]);
  assert.equal(end.code, 0, end.stderr.slice(-2000));
  assert.deepEqual([endA.code, endB.code], [0, 0]);
  const summary = JSON.parse(end.stdout) as { checkpoint: string; steps: number; final_world_size: number; lost_workers: unknown[] };
  assert.deepEqual([summary.steps, summary.final_world_size, summary.lost_workers.length], [6, 2, 0]);
  const [got, want] = [await weights(summary.checkpoint), await weights(refSummary.checkpoint)];
  assert.equal(got.length, want.length);
  got.forEach((w, i) => assert.deepEqual(w, want[i], `tensor ${i} differs from the unattacked run`));
});

test('a coordinator reachable from other machines needs a join token, or --insecure (which warns)', { timeout: 60_000 }, async () => {
  const refused = await cli(['start', '--host', '0.0.0.0', '--steps', '1', '--no-nats']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /security\.joinTokenFile.*--host 0\.0\.0\.0 is reachable from other machines: give --join-token-file FILE/);
  const insecure = spawn(process.execPath, [COORDINATOR, 'start', '--host', '0.0.0.0', '--insecure', '--steps', '1', '--no-nats', '--no-spawn-workers', '--log-level', 'warn'], { cwd: REPO_ROOT });
  const log = new LogWatcher(insecure);
  const warned = await log.until((l) => l.msg.startsWith('INSECURE'));
  assert.equal(warned['host'], '0.0.0.0');
  insecure.kill('SIGKILL');
  const short = await cli(['start', '--steps', '1', '--no-nats', '--join-token-file', '/dev/null']);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /security\.joinTokenFile.*\/dev\/null holds 0 characters; a token needs at least 16/);
});
