/**
 * grpc.health.v1 on real processes: a coordinator and 2 workers with the join token and mutual TLS,
 * each with a plaintext health port (--health-port) as the kubelet's gRPC probe would use it. Every
 * process's readiness goes NOT_SERVING -> SERVING -> NOT_SERVING over the run, watched with the
 * health service's own Watch stream (each change, no polling); liveness is SERVING meanwhile; the
 * health service also answers on the processes' own gRPC servers, there only over mutual TLS. And a
 * worker SIGKILLed mid-step: the survivors are not ready between their failed all-reduce and the new ring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { freePort } from '../shared/runtime/telemetry/nats_server.js';
import { check, healthClient, watch, type HealthClient } from './health_client.js';
import { LogWatcher } from './run_cli.js';
import { makeCa, makeCert, type CertFiles } from './tls_certs.js';

const COORDINATOR = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const WORKER = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');

function started(file: string, args: string[], t: { after(fn: () => void): void }): { child: ChildProcess; log: LogWatcher; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [file, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { child.kill('SIGKILL'); });
  child.stdout?.resume();
  return { child, log: new LogWatcher(child), exit: new Promise((resolve) => child.on('exit', resolve)) };
}

test('health: coordinator and workers (join token, mutual TLS) report NOT_SERVING -> SERVING -> NOT_SERVING over a run on their plaintext health ports; liveness SERVING; the gRPC servers answer health over mTLS only', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const node: CertFiles = makeCert(dir, 'node', makeCa(dir, 'run'));
  const tokenFile = path.join(dir, 'join-token');
  writeFileSync(tokenFile, 'health-test-token\n');
  const secure = ['--join-token-file', tokenFile, '--tls-cert', node.cert, '--tls-key', node.key, '--tls-ca', node.ca, '--no-nats', '--log-level', 'info', '--log-format', 'json'];
  const port = await freePort();
  const plaintext = grpc.credentials.createInsecure();
  const clients: HealthClient[] = [];
  t.after(() => { for (const c of clients) c.close(); });
  const client = (address: string, creds = plaintext): HealthClient => { const c = healthClient(address, creds); clients.push(c); return c; };

  // the workers first: with no coordinator yet they cannot be ready, so their first status is certain.
  // (The coordinator's first one, NOT_SERVING, lasts while it loads data and model: 1.5 s here, where the
  // Watch below answers within milliseconds of the health port's log line.)
  const workers = ['w0', 'w1'].map((id) => started(WORKER, ['--coordinator', `127.0.0.1:${port}`, '--worker-id', id, '--health-port', '0', ...secure], t));
  const workerHealth = await Promise.all(workers.map(async (w) => {
    const address = String((await w.log.until((l) => l.msg === 'health port listening'))['address']);
    const c = client(address);
    const readiness = watch(c, 'readiness');
    assert.equal(await check(c, 'liveness'), 'SERVING', 'liveness answers while the worker waits for a coordinator');
    assert.equal(await check(c, ''), 'NOT_SERVING');
    return { c, readiness };
  }));

  const coordinator = started(COORDINATOR, ['start', '--workers', '2', '--no-spawn-workers', '--port', String(port), '--steps', '6', '--batch-size', '8',
    '--max-queries', '4', '--test-hook-step-sleep-ms', '1000', '--health-port', '0', '--run-dir', path.join(dir, 'run'), ...secure], t);
  const coordinatorAddress = String((await coordinator.log.until((l) => l.msg === 'health port listening'))['address']);
  const c = client(coordinatorAddress);
  const coordinatorReadiness = watch(c, 'dsi.v1.Coordinator');

  // training (every step sleeps 1 s in the workers' compute threads, so the run is still under way)
  const ring = (await coordinator.log.until((l) => l.msg === 'all workers joined'))['ring'] as string[];
  await Promise.all(workers.map((w) => w.log.until((l) => l.msg === 'ring formed')));
  assert.equal(await check(c, 'readiness'), 'SERVING');
  assert.equal(await check(c, 'liveness'), 'SERVING');
  await assert.rejects(check(c, 'no.such.Service'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  // the coordinator's own gRPC server: the health service is there, behind mutual TLS (a client certificate)
  const mtls = grpc.credentials.createSsl(readFileSync(node.ca), readFileSync(node.key), readFileSync(node.cert));
  assert.equal(await check(client(`127.0.0.1:${port}`, mtls), 'dsi.v1.Coordinator'), 'SERVING');
  await assert.rejects(check(client(`127.0.0.1:${port}`), ''), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
    'a plaintext client (the kubelet\'s probe) gets no answer from the TLS port');
  assert.equal(ring.length, 2);
  for (const address of ring) assert.equal(await check(client(address, mtls), 'dsi.v1.Collective'), 'SERVING');

  assert.equal(await coordinator.exit, 0, coordinator.log.lines.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
  for (const w of workers) assert.equal(await w.exit, 0);
  await Promise.all([coordinatorReadiness.ended, ...workerHealth.map((h) => h.readiness.ended)]);
  assert.deepEqual(coordinatorReadiness.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], 'coordinator: loading, accepting joins and training, finished');
  for (const [i, h] of workerHealth.entries()) assert.deepEqual(h.readiness.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], `worker w${i}: waiting, in a ring, stopped`);
  // and the reasons are in the logs
  const reasons = coordinator.log.lines.filter((l) => l.msg === 'health').map((l) => l['reason']);
  assert.deepEqual(reasons.slice(0, 2), ['accepting joins', 'run finished']);
});

test('health: when a worker is SIGKILLed mid-step, the survivors go NOT_SERVING (their all-reduce failed) until the new ring forms, then SERVING again; the coordinator stays SERVING', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-health-drop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const common = ['--no-nats', '--log-level', 'info', '--log-format', 'json'];
  const port = await freePort();
  const clients: HealthClient[] = [];
  t.after(() => { for (const c of clients) c.close(); });
  const client = (address: string): HealthClient => { const c = healthClient(address); clients.push(c); return c; };
  const workers = ['w0', 'w1', 'w2'].map((id) => started(WORKER, ['--coordinator', `127.0.0.1:${port}`, '--worker-id', id, '--health-port', '0', ...common], t));
  const survivors = await Promise.all(workers.slice(0, 2).map(async (w) =>
    watch(client(String((await w.log.until((l) => l.msg === 'health port listening'))['address'])), 'readiness')));
  // every step's compute sleeps 2 s: the kill lands while the survivors compute, before their all-reduce
  const coordinator = started(COORDINATOR, ['start', '--workers', '3', '--no-spawn-workers', '--port', String(port), '--steps', '6', '--batch-size', '12',
    '--log-every', '1', '--max-queries', '4', '--test-hook-step-sleep-ms', '2000', '--ring-timeout-ms', '20000', '--health-port', '0', '--run-dir', path.join(dir, 'run'), ...common], t);
  const coordinatorReadiness = watch(client(String((await coordinator.log.until((l) => l.msg === 'health port listening'))['address'])), 'readiness');
  await coordinator.log.until((l) => l.msg === 'step' && Number(l['step']) >= 2);
  workers[2]?.child.kill('SIGKILL');

  assert.equal(await coordinator.exit, 0, coordinator.log.lines.slice(-5).map((l) => JSON.stringify(l)).join('\n'));
  for (const w of workers.slice(0, 2)) assert.equal(await w.exit, 0);
  await Promise.all([coordinatorReadiness.ended, ...survivors.map((s) => s.ended)]);
  assert.deepEqual(coordinatorReadiness.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], 'the coordinator accepts and trains throughout the re-forming');
  for (const [i, s] of survivors.entries()) {
    assert.deepEqual(s.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING'], `survivor w${i}: waiting, ring 1, all-reduce failed, ring 2, stopped`);
    const reasons = workers[i]?.log.lines.filter((l) => l.msg === 'health').map((l) => String(l['reason']).replace(/ epoch \d+, rank \d+ of \d+/, '')) ?? [];
    assert.deepEqual(reasons, ['in ring', 'all-reduce failed: waiting for a new ring', 'in ring', 'stopped: STOP_CAUSE_FINISHED'], `w${i}'s health log`);
  }
});
