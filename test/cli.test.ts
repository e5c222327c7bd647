/** The executable as a user runs it: real processes, real files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './run_cli.js';
import { WORKER_NODE_FLAGS } from '../coordinator/cluster/run_cluster.js';


test('start --json trains, checkpoints, evaluates and prints the summary; search answers from the run', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runDir = path.join(dir, 'run');
  const r = await cli(['start', '--workers', '1', '--steps', '4', '--log-every', '2', '--max-queries', '6', '--run-dir', runDir, '--json'], { DSI_LOG_LEVEL: 'info' });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown> & { eval: Record<string, number> };
  assert.equal(s['steps'], 4);
  assert.ok(typeof s['loss_first'] === 'number' && typeof s['loss_last'] === 'number');
  assert.ok((s['loss_last'] as number) < (s['loss_first'] as number), `loss ${s['loss_first']} -> ${s['loss_last']}`);
  for (const k of ['hits_at_1', 'hits_at_10', 'mrr_at_10']) assert.ok(s.eval[k]! >= 0 && s.eval[k]! <= 1, k);
  assert.equal(s.eval['queries'], 6);
  assert.equal(s['checkpoint'], path.join(runDir, 'checkpoints', 'step-00000004'));
  assert.ok(existsSync(path.join(runDir, 'checkpoints', 'step-00000004', 'model.safetensors')));
  assert.deepEqual((s as unknown as { workers: Array<{ rank: number }> }).workers.map((w) => w.rank), [0]);
  // the worker process runs with the V8 flags of WORKER_NODE_FLAGS (its 'joined' log line says which)
  const joined = r.stderr.split('\n').filter((l) => l.includes('"nodeFlags"')).map((l) => JSON.parse(l) as { nodeFlags: string[] });
  assert.deepEqual(joined.map((j) => j.nodeFlags), [WORKER_NODE_FLAGS]);
  // the TREC run has 10 ranked docids for each of the 6 queries
  const trec = readFileSync(path.join(runDir, 'eval', 'run.eval.trec'), 'utf8').trim().split('\n');
  assert.equal(trec.length, 60);
  // atomic docids (the default): the document's index, 0..999 for the sample's 1,000 documents
  assert.match(trec[0] ?? '', /^\S+ Q0 \d{1,3} 1 -?[\d.e-]+ dsi$/);

  const q = await cli(['search', '--run-dir', runDir, 'what is the capital of france', '--json']);
  assert.equal(q.code, 0, q.stderr);
  const res = JSON.parse(q.stdout) as { query: string; results: Array<{ rank: number; docid: string; score: number; text: string }> };
  assert.equal(res.query, 'what is the capital of france');
  assert.equal(res.results.length, 10);
  res.results.forEach((x, i) => {
    assert.equal(x.rank, i + 1);
    assert.match(x.docid, /^\d{1,3}$/);
    assert.ok(x.text.length > 0);
    if (i > 0) assert.ok(x.score <= (res.results[i - 1]?.score as number));
  });
});

test('bad input: unknown flag, invalid value, missing dataset folder — one clear line, exit 2', async (t) => {
  const typo = await cli(['start', '--stpes', '3']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown flag --stpes/);
  const bad = await cli(['start', '--steps', '-3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /train\.steps: must be an integer > 0/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-cli-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = await cli(['start', '--data', path.join(dir, 'nowhere'), '--steps', '1']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nowhere/);
  mkdirSync(path.join(dir, 'broken'));
  writeFileSync(path.join(dir, 'broken', 'manifest.json'), '{"format": "dsi-prepared", ');
  const broken = await cli(['start', '--data', path.join(dir, 'broken'), '--steps', '1']);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /broken\/manifest\.json/);
});
