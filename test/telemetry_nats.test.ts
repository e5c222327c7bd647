/**
 * NATS telemetry end to end: a real nats-server started here on a free port, a real `coordinator
 * start --workers 2` with its worker processes. Every rank's step metrics arrive on NATS, and the
 * JetStream stream holds the run's events in the order they happened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, JSONCodec } from 'nats';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { NatsServer } from '../shared/runtime/telemetry/nats_server.js';
import { replayEvents } from '../shared/runtime/telemetry/events.js';
import { parseStepTelemetry, type RunEvent, type StepTelemetry } from '../shared/runtime/telemetry/payloads.js';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const STEPS = 6, BATCH = 8;
const COMMON = ['--batch-size', String(BATCH), '--lr', '1e-3', '--warmup-steps', '2', '--log-every', '1', '--max-queries', '4', '--json', '--log-level', 'warn'];

interface Summary { run_id: string; steps: number; telemetry: { mode: string; nats_url: string; received: { nats: number; grpc: number }; events_stored: number } }

test('2 workers: every rank publishes every step on dsi.<runId>.worker.<rank>.step; JetStream holds the run events in order', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-telemetry-'));
  const server = await NatsServer.start();
  t.after(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  // subscribed before the run starts (its id is not known yet): every run's worker steps
  const sub = nc.subscribe('dsi.*.worker.*.step');
  const received: Array<{ subject: string; payload: StepTelemetry }> = [];
  const collecting = (async () => {
    for await (const m of sub) received.push({ subject: m.subject, payload: parseStepTelemetry(JSONCodec().decode(m.data)) });
  })();

  const r = await run(process.execPath, [CLI, 'start', ...COMMON, '--workers', '2', '--steps', String(STEPS), '--checkpoint-every', '3',
    '--nats-url', server.url, '--run-dir', path.join(dir, 'run')], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const summary = JSON.parse(r.stdout) as Summary;
  await nc.flush();
  sub.unsubscribe();
  await collecting;

  assert.equal(summary.steps, STEPS);
  assert.equal(summary.telemetry.mode, 'nats');
  assert.equal(summary.telemetry.nats_url, server.url);
  // the coordinator counted each (rank, step) once, whichever source brought it
  assert.equal(summary.telemetry.received.nats + summary.telemetry.received.grpc, 2 * STEPS);
  assert.ok(summary.telemetry.received.nats > 0, `the coordinator took no step from NATS: ${JSON.stringify(summary.telemetry)}`);
  for (const rank of [0, 1]) {
    const mine = received.filter((m) => m.payload.rank === rank);
    assert.deepEqual(mine.map((m) => m.payload.step), Array.from({ length: STEPS }, (_, i) => i + 1), `rank ${rank}: steps on NATS`);
    for (const { subject, payload: p } of mine) {
      assert.equal(subject, `dsi.${summary.run_id}.worker.${rank}.step`);
      assert.equal(p.runId, summary.run_id);
      assert.equal(p.samples, BATCH / 2);                          // this rank's half of the global batch
      const ph = p.phasesMs;
      const sum = ph.data + ph.forwardBackward + ph.waiting + ph.allReduce + ph.optimizer;
      assert.ok(Math.abs(sum - p.stepMs) < 1e-6 * p.stepMs + 1e-9, `rank ${rank} step ${p.step}: phases add up to ${sum}, step ${p.stepMs} ms`);
      assert.ok(ph.forwardBackward > 0 && ph.allReduce + ph.waiting > 0 && p.bytesSent > 0, `rank ${rank} step ${p.step}: ${JSON.stringify(p)}`);
      assert.ok(Number.isFinite(p.loss) && p.tokens > 0 && p.samplesPerSec > 0 && p.lossScale > 0);
      assert.equal(p.sparsity, null);                              // no pruning in this run
    }
  }
  // both ranks trained the same global batch: the reduced loss is the same number
  const loss = (rank: number, step: number) => received.find((m) => m.payload.rank === rank && m.payload.step === step)?.payload.loss;
  assert.equal(loss(0, STEPS), loss(1, STEPS));

  const events: RunEvent[] = [];
  for await (const e of replayEvents(nc, summary.run_id)) events.push(e);
  assert.equal(summary.telemetry.events_stored, events.length);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1), 'stored in the order they happened');
  const types = events.map((e) => e.type);
  assert.deepEqual(types, ['run_started', 'worker_joined', 'worker_joined', 'ring_formed', 'checkpoint_written', 'checkpoint_written', 'run_finished', 'worker_left', 'worker_left']);
  const ring = events.find((e) => e.type === 'ring_formed');
  assert.ok(ring?.type === 'ring_formed' && ring.ring.length === 2);
  assert.deepEqual(events.filter((e) => e.type === 'checkpoint_written').map((e) => (e.type === 'checkpoint_written' ? e.step : -1)), [3, 6]);
  const fin = events.find((e) => e.type === 'run_finished');
  assert.ok(fin?.type === 'run_finished' && fin.steps === STEPS && !fin.interrupted);
});
