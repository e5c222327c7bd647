/**
 * `coordinator top --once` against a real 2-worker run: from the coordinator's monitoring address
 * and from NATS (newest run found in the events stream); both print one row per rank, and forged
 * NATS figures for a rank the run does not have show in neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { NatsServer } from '../shared/runtime/telemetry/nats_server.js';
import { connect } from 'nats';
import { stepSubject, TELEMETRY_VERSION, type StepTelemetry } from '../shared/runtime/telemetry/payloads.js';
import { LogWatcher } from './run_cli.js';

const exec = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
// long enough to outlast the two top processes; SIGINT ends it after them (checkpoint, exit 0)
const STEPS = 200;

/** Rows of the table: the lines after the title and the header, split into cells. */
function rows(out: string): string[][] {
  const lines = out.trimEnd().split('\n');
  assert.match(lines[1] ?? '', /^\s*rank\s+worker\s+step\s+samples\/s\s+tokens\/s\s+step ms\s+data\s+fwd\+bwd\s+wait\s+reduce\s+optim\s+loss/);
  return lines.slice(2).map((l) => l.trim().split(/\s+/));
}

test('coordinator top --once: one row per worker, from --coordinator HOST:PORT and from --nats-url', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-top-'));
  const server = await NatsServer.start();
  t.after(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const child = spawn(process.execPath, [CLI, 'start', '--batch-size', '8', '--steps', String(STEPS), '--workers', '2', '--max-queries', '2', '--json',
    '--log-level', 'info', '--log-every', '1', '--checkpoint-every', '0', '--nats-url', server.url, '--metrics-port', '0', '--run-dir', path.join(dir, 'run')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = new LogWatcher(child);
  const url = String((await logs.until((l) => l.msg.startsWith('serving /metrics') && typeof l['url'] === 'string'))['url']);
  const runId = String((await logs.until((l) => l.msg === 'coordinator listening' && typeof l['runId'] === 'string'))['runId']);
  await logs.until((l) => l.msg === 'step' && Number(l['step'] ?? 0) >= 2);
  // a stranger on NATS publishes well-formed figures for rank 7 all the while
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const forged: StepTelemetry = {
    v: TELEMETRY_VERSION, type: 'step', runId, rank: 7, workerId: 'intruder', step: 1, startedAtMs: Date.now(), stepMs: 1, phasesMs: { data: 0, forwardBackward: 1, waiting: 0, allReduce: 0, optimizer: 0 },
    samplesPerSec: 1, tokensPerSec: 1, samples: 1, tokens: 1, loss: 1, gradNorm: 1, skipped: false, bytesSent: 0, lossScale: 1, sparsity: null, rssBytes: 1, tensorBytes: 1,
  };
  const forging = setInterval(() => nc.publish(stepSubject(runId, 7), JSON.stringify(forged)), 20);
  t.after(() => clearInterval(forging));
  const [http, nats] = await Promise.all([
    exec(process.execPath, [CLI, 'top', '--coordinator', url.replace(/^http:\/\//, ''), '--once'], { cwd: REPO_ROOT }),
    exec(process.execPath, [CLI, 'top', '--nats-url', server.url, '--once'], { cwd: REPO_ROOT }),
  ]);
  clearInterval(forging);
  child.kill('SIGINT');
  for (const [source, out] of [['coordinator', http.stdout], ['nats', nats.stdout]] as const) {
    assert.match(out, new RegExp(`^run ${runId}  workers 2/2  telemetry nats`), `${source}: ${out}`);
    const r = rows(out);
    assert.deepEqual(r.map((c) => c[0]), ['0', '1'], `${source}: ${out}`);
    assert.deepEqual(r.map((c) => c[1]), ['local-000', 'local-001']);
    for (const c of r) {
      assert.ok(Number(c[2]) >= 1, `${source}: step ${c[2]}`);
      assert.ok(Number(c[3]) > 0 && Number(c[4]) > 0, `${source}: samples/s ${c[3]}, tokens/s ${c[4]}`);
      assert.match(c[7] ?? '', /^\d+%$/);                       // forward+backward share
    }
  }
  assert.equal(await exited, 0);
});
