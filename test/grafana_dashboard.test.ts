/**
 * deploy/grafana/dsi-training.json: every PromQL query parses (promtool check rules, with Grafana's
 * variables filled in) and names only metrics the coordinator really exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { RunMetrics } from '../coordinator/telemetry/prometheus.js';
import { TELEMETRY_VERSION, type StepTelemetry } from '../shared/runtime/telemetry/payloads.js';

interface Panel { id: number; title: string; targets: Array<{ expr: string }> }

test('Grafana dashboard: queries parse and use only exported metric names', async (t) => {
  const dash = JSON.parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'dsi-training.json'), 'utf8')) as { uid: string; panels: Panel[] };
  assert.equal(dash.uid, 'dsi-training');
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr));
  assert.ok(exprs.length >= 12);

  // what the coordinator exports, after one step and one event
  const m = new RunMetrics('abcd1234', 2, 'nats');
  const step: StepTelemetry = {
    v: TELEMETRY_VERSION, type: 'step', runId: 'abcd1234', rank: 0, workerId: 'local-000', step: 1, startedAtMs: Date.now(), stepMs: 100,
    phasesMs: { data: 1, forwardBackward: 60, waiting: 10, allReduce: 20, optimizer: 9 }, samplesPerSec: 40, tokensPerSec: 900, samples: 4, tokens: 90,
    loss: 5, gradNorm: 1, skipped: false, bytesSent: 1000, lossScale: 1, sparsity: 0.5, rssBytes: 1e8, tensorBytes: 1e6,
  };
  m.step(step, 'nats');
  m.event({ type: 'worker_joined', workerId: 'local-000', address: '127.0.0.1:1', backend: 'wasm' });
  const exported = new Set((await m.text()).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
  for (const name of new Set(exprs.flatMap((e) => e.match(/\bdsi_[a-z_]+/g) ?? [])))
    assert.ok(exported.has(name), `the dashboard queries ${name}, which /metrics does not export`);

  // promtool parses every query as a recording rule (Grafana's variables replaced by values)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-grafana-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = ['groups:', '  - name: dashboard', '  rules:'.replace('  rules', '    rules'),
    ...exprs.map((e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*'))}`)];
  writeFileSync(path.join(dir, 'rules.yml'), rules.join('\n') + '\n');
  const check = spawnSync('promtool', ['check', 'rules', path.join(dir, 'rules.yml')], { encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check rules: ${check.stdout}${check.stderr}`);
  assert.match(check.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
});
