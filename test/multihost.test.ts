/**
 * A run across hosts: the coordinator, a real nats-server and 3 workers each on a network-namespace
 * host of their own (coordinator/bench/netns_hosts.ts), 1 Gbit/s links, the join token and mutual TLS
 * on every gRPC and ring connection. Workers join as they would from other machines: `worker
 * --coordinator ADDR --worker-host 0.0.0.0 --advertise-host THEIR_ADDR`. Mid-run one worker's cable
 * is pulled (its switch port goes down): it is dropped and the two others re-form the ring and go
 * on; the cable goes back in and the same worker process joins the run again by itself (a worker
 * started by hand re-joins up to its --max-restarts), entering the ring at a step boundary with the
 * current state; the run finishes with 3. The summary, /metrics, /api/run and the NATS run events
 * all name what happened.
 * Skips only where network namespaces cannot be made (not root, no iproute2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetnsHosts, netnsUnavailable } from '../coordinator/bench/netns_hosts.js';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { findNatsServer } from '../shared/runtime/telemetry/nats_server.js';
import type { RunEvent } from '../shared/runtime/telemetry/payloads.js';
import { LogWatcher } from './run_cli.js';
import { makeCa, makeCert, type CertFiles } from './tls_certs.js';

const WORKERS = ['w0', 'w1', 'w2'];
/** Steps of at least STEP_SLEEP_MS each (the compute thread's test hook): the run outlasts the drop and the re-join (here: dropped at step 3, back in the ring at step 6, 5 s after the cable). */
const STEPS = 40, STEP_SLEEP_MS = 400;
const COORDINATOR_PORT = 7070, METRICS_PORT = 9100, NATS_PORT = 4222;
/** DSI_TEST_VERBOSE=1: the coordinator's and workers' logs and the test's phases on stderr. */
const verbose = process.env['DSI_TEST_VERBOSE'] !== undefined;
const phase = (what: string): void => { if (verbose) process.stderr.write(`[test] ${what}\n`); };
const skip = netnsUnavailable() ?? (findNatsServer() ? undefined : 'no nats-server on PATH or in /usr/sbin (bash .ci/system-packages installs it)');
if (skip) process.stderr.write(`multihost.test: skipped: ${skip}\n`);

interface Summary {
  run_id: string; steps: number; world_size: number; final_world_size: number;
  lost_workers: Array<{ worker_id: string; rank: number; step: number; reason: string; world_size: number }>;
  rejoined_workers: Array<{ worker_id: string; step: number; world_size: number }>;
  examples: { examples_applied: number; examples_lost: number; examples_repeated: number };
  telemetry: { mode: string; nats_url: string };
}

test('coordinator, NATS and 3 workers on their own hosts with token and mutual TLS; a worker whose link goes down is dropped, the run goes on, and the worker re-joins when its link is back', { skip, timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-multihost-'));
  const hosts = await NetnsHosts.create({ hosts: ['nats', 'coord', ...WORKERS], linkRateBps: 1e9 });
  t.after(async () => { await hosts.close(); rmSync(dir, { recursive: true, force: true }); });
  const addr = (h: string): string => hosts.address(h);
  // one certificate for every process, naming every host's address
  const ca = makeCa(dir, 'run');
  const cert = makeCert(dir, 'node', ca, hosts.hosts.map((h) => `IP:${addr(h)}`).join(','));
  const token = path.join(dir, 'join-token');
  writeFileSync(token, randomBytes(32).toString('base64'));
  const security = (f: CertFiles): string[] => ['--join-token-file', token, '--tls-cert', f.cert, '--tls-key', f.key, '--tls-ca', f.ca];
  const natsUrl = `nats://${addr('nats')}:${NATS_PORT}`;

  // 1) NATS on its host, with JetStream for the run events
  const nats = hosts.spawn('nats', [findNatsServer() as string, '-a', addr('nats'), '-p', String(NATS_PORT), '-js', '-sd', path.join(dir, 'nats')]);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    nats.stderr?.on('data', (b: Buffer) => { seen += b.toString(); if (seen.includes('Server is ready')) resolve(); });
    nats.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${seen}`)));
  });

  phase('2) the coordinator');
  // 2) the coordinator on its host: waits for workers from elsewhere
  const coordinator = hosts.spawn('coord', [process.execPath, path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', '3', '--no-spawn-workers',
    '--host', addr('coord'), '--port', String(COORDINATOR_PORT), '--metrics-host', addr('coord'), '--metrics-port', String(METRICS_PORT), '--nats-url', natsUrl,
    '--steps', String(STEPS), '--batch-size', '12', '--log-every', '1', '--checkpoint-every', '100', '--max-queries', '4', '--heartbeat-ms', '300',
    '--ring-timeout-ms', '5000', '--test-hook-step-sleep-ms', String(STEP_SLEEP_MS), '--json', '--log-level', 'info', '--run-dir', path.join(dir, 'run'), ...security(cert)], { cwd: REPO_ROOT });
  const log = new LogWatcher(coordinator);
  coordinator.stderr?.on('data', (b: Buffer) => { if (verbose) process.stderr.write(`[coord] ${b.toString()}`); });
  let stdout = '';
  coordinator.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); });
  const exited = new Promise<number | null>((resolve) => coordinator.once('exit', resolve));
  const tail = (): string => log.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n');
  const address = String((await log.until((l) => l.msg === 'coordinator listening'))['address']);
  assert.equal(address, `${addr('coord')}:${COORDINATOR_PORT}`);

  phase('3) the workers');
  // 3) the workers, each on its host, binding every interface and telling the others its own address
  for (const w of WORKERS) {
    const worker = hosts.spawn(w, [process.execPath, path.join(REPO_ROOT, 'dist', 'worker', 'cli.js'), '--coordinator', address, '--worker-id', w,
      '--worker-host', '0.0.0.0', '--advertise-host', addr(w), '--coordinator-timeout-ms', '30000', '--max-restarts', '1', '--log-level', 'warn', ...security(cert)], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    worker.stderr?.on('data', (b: Buffer) => { if (verbose) process.stderr.write(`[${w}] ${b.toString()}`); });
  }
  const formed = await log.until((l) => l.msg === 'ring formed');
  const ring = formed['ring'] as string[];                        // ["0:w1@198.18.x.4:port", ...]
  assert.deepEqual(ring.map((r) => r.replace(/^\d+:(\w+)@.*$/, '$1')).sort(), WORKERS);
  for (const r of ring) {
    const [, id, host] = /^\d+:(\w+)@([\d.]+):\d+$/.exec(r) ?? [];
    assert.equal(host, addr(id ?? ''), `${r}: the ring dials each worker at its advertised address`);
  }
  // the victim: the last rank (not rank 0, which uploads the checkpoints)
  const victim = /^\d+:(\w+)@/.exec(ring[ring.length - 1] ?? '')?.[1] ?? '';

  phase('4) two steps done');
  // 4) two steps done: pull the victim's cable
  await log.until((l) => l.msg === 'step' && Number(l['step']) >= 2);
  await hosts.setLink(victim, false);
  const lost = await log.until((l) => l.msg === 'worker lost');
  assert.equal(lost['workerId'], victim, tail());
  await log.until((l) => l.msg === 'ring re-formed');

  phase('5) while the run goes on');
  // 5) while the run goes on: /metrics and /api/run, read from the NATS host across the bridge
  const metricsUrl = `http://${addr('coord')}:${METRICS_PORT}`;
  const probe = (...args: string[]): Promise<string> => hosts.exec('nats', [process.execPath, path.join(REPO_ROOT, 'dist', 'test', 'multihost_probe.js'), ...args]);
  const [metrics, runView] = await Promise.all([probe('get', `${metricsUrl}/metrics`), probe('get', `${metricsUrl}/api/run`)]);
  assert.match(metrics, /^dsi_run_world_size 3$/m);
  assert.match(metrics, /^dsi_run_workers_joined 2$/m, 'one of 3 left');
  assert.match(metrics, /^dsi_run_events_total\{type="worker_left"\} 1$/m);
  const left = (JSON.parse(runView) as { events: Array<{ type: string; workerId?: string; worldSize?: number }> }).events.filter((e) => e.type === 'worker_left');
  assert.deepEqual(left.map((e) => [e.workerId, e.worldSize]), [[victim, 2]]);

  phase('6) the cable back in: the worker re-joins');
  // 6) the cable back in: the dropped worker hears it was dropped, joins again, and enters the ring
  // at a step boundary with the state of that step
  await hosts.setLink(victim, true);
  const back = await log.until((l) => l.msg === 'workers re-joined');
  assert.deepEqual([back['joined'], back['worldSize']], [[victim], 3], tail());

  phase('7) the run finishes');
  // 7) the run finishes with all three
  assert.equal(await exited, 0, tail());
  const summary = JSON.parse(stdout) as Summary;
  assert.equal(summary.steps, STEPS);
  assert.deepEqual([summary.world_size, summary.final_world_size], [3, 3]);
  assert.deepEqual(summary.lost_workers.map((l) => [l.worker_id, l.world_size]), [[victim, 2]]);
  assert.deepEqual(summary.rejoined_workers.map((r) => [r.worker_id, r.world_size]), [[victim, 3]]);
  assert.ok((summary.rejoined_workers[0]?.step ?? 0) > (summary.lost_workers[0]?.step ?? 0), JSON.stringify(summary.rejoined_workers));
  // every example position of every step applied exactly once across the drop and the re-join
  assert.deepEqual(summary.examples, { examples_applied: STEPS * 12, examples_lost: 0, examples_repeated: 0 });
  assert.ok(summary.lost_workers[0]?.reason, 'the summary says why');
  assert.deepEqual([summary.telemetry.mode, summary.telemetry.nats_url], ['nats', natsUrl]);

  phase("8) the run's events");
  // 8) the run's events in JetStream: joined x3, ring, the victim left mid-run and joined again, finished
  const events = JSON.parse(await probe('events', natsUrl, summary.run_id)) as RunEvent[];
  const types = events.map((e) => e.type);
  assert.equal(types.filter((x) => x === 'worker_joined').length, 4, types.join(','));
  const joinedAgain = events.map((e) => e.type === 'worker_joined' && e.workerId === victim).lastIndexOf(true);
  assert.ok(joinedAgain > types.indexOf('worker_left'), `the victim joined again after it left: ${types.join(',')}`);
  const midRun = events.find((e): e is Extract<RunEvent, { type: 'worker_left' }> => e.type === 'worker_left' && e.workerId === victim);
  assert.ok(midRun && midRun.worldSize === 2 && (midRun.step ?? 0) >= 2, JSON.stringify(midRun));
  assert.ok(types.indexOf('worker_left') < types.indexOf('run_finished'), `the victim left before the run finished: ${types.join(',')}`);
  const fin = events.find((e) => e.type === 'run_finished');
  assert.ok(fin?.type === 'run_finished' && fin.steps === STEPS && !fin.interrupted);
});
