/**
 * A NATS server that goes away mid-run does not stop training: a real nats-server is killed
 * (SIGKILL, like a crash) while `coordinator start --workers 2` trains, and restarted on the same
 * port and store. The run finishes, the gap is logged, and no step and no run event is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, JSONCodec } from 'nats';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { NatsServer } from '../shared/runtime/telemetry/nats_server.js';
import { replayEvents } from '../shared/runtime/telemetry/events.js';
import { parseStepTelemetry, type RunEvent } from '../shared/runtime/telemetry/payloads.js';
import { LogWatcher } from './run_cli.js';

const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const STEPS = 30;
const ARGS = ['--batch-size', '8', '--lr', '1e-3', '--warmup-steps', '2', '--log-every', '5', '--max-queries', '4', '--json', '--log-level', 'warn', '--checkpoint-every', '10'];

test('NATS killed mid-run and restarted: training finishes, the gap is logged, steps and events are all there', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-outage-'));
  const storeDir = path.join(dir, 'nats-store');
  let server = await NatsServer.start({ storeDir });
  const port = server.port;
  t.after(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  t.after(() => nc.close());
  const sub = nc.subscribe('dsi.*.worker.*.step');

  const child = spawn(process.execPath, [CLI, 'start', ...ARGS, '--workers', '2', '--steps', String(STEPS), '--nats-url', server.url, '--run-dir', path.join(dir, 'run')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  const logs = new LogWatcher(child);
  const lines = logs.lines;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  // 1) wait until both ranks have published step 3 on NATS
  const seen = new Set<string>();
  let runId = '';
  for await (const m of sub) {
    const p = parseStepTelemetry(JSONCodec().decode(m.data));
    runId = p.runId;
    if (p.step >= 3) seen.add(String(p.rank));
    if (seen.size === 2) break;
  }
  // 2) crash the server; the coordinator and both workers notice
  await server.close(false);
  await logs.until((l) => l['component'] === 'telemetry' && l.msg.startsWith('telemetry lost its NATS connection'));
  // 3) bring it back on the same port and store (JetStream keeps the stream)
  server = await NatsServer.start({ port, storeDir });
  const code = await exited;
  assert.equal(code, 0, `coordinator exit code; log tail: ${JSON.stringify(lines.slice(-5))}`);
  const summary = JSON.parse(stdout) as { run_id: string; steps: number; telemetry: { received: { nats: number; grpc: number }; gaps: Array<{ ms: number }>; events_stored: number } };
  assert.equal(summary.run_id, runId);
  assert.equal(summary.steps, STEPS);
  // the gap is logged, with its length, by the coordinator and by each worker
  const resumed = lines.filter((l) => l.msg === 'telemetry resumed: NATS reconnected');
  assert.ok(resumed.length >= 3, `'telemetry resumed' lines: ${JSON.stringify(resumed)}`);
  for (const l of resumed) assert.ok(typeof l.gapMs === 'number' && l.gapMs >= 0);
  assert.equal(summary.telemetry.gaps.length, 1);
  // every (rank, step) reached the coordinator once: NATS's buffered backlog and the heartbeats fill the gap
  assert.equal(summary.telemetry.received.nats + summary.telemetry.received.grpc, 2 * STEPS);
  // events queued while JetStream was away were stored after it returned, in order
  const events: RunEvent[] = [];
  for await (const e of replayEvents(nc, runId)) events.push(e);
  assert.equal(events.length, summary.telemetry.events_stored);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  assert.deepEqual(events.filter((e) => e.type === 'checkpoint_written').map((e) => (e.type === 'checkpoint_written' ? e.step : -1)), [10, 20, 30]);
  assert.ok(events.some((e) => e.type === 'run_finished'));
});
