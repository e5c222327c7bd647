/**
 * `coordinator prepare` killed (SIGKILL) and run again resumes from its checkpoints (work_dir.ts,
 * stages.ts): real processes on the bundled sample, killed on their own log lines. Each resumed run
 * must skip the stages it restored and publish files byte-identical (sha256 in the manifest) to an
 * uninterrupted run's. Also: other options start afresh; a damaged checkpoint or stage file redoes
 * that stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import type { DatasetManifest } from '../shared/dataset/format.js';
import { CLI, LogWatcher, type LogLine } from './run_cli.js';

/** Every stage has work on the sample: an augmented corpus, pseudo-queries, a BM25 run; examples checkpointed every 100. */
const ARGS = ['prepare', '--format', 'sample', '--augment', 'stopwords', '--pseudo-queries', '1', '--bm25-top-k', '20', '--checkpoint-examples', '100', '--json'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  log: LogLine[];
  stdout: string;
}

/** Runs prepare into `out`; with `killOn`, SIGKILLs it at the first log line that matches. */
async function prepare(out: string, killOn?: (l: LogLine) => boolean, extra: readonly string[] = []): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...ARGS, '--out', out, ...extra], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'debug' } });
  const watcher = new LogWatcher(child);
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  if (killOn) {
    await watcher.until(killOn);
    child.kill('SIGKILL');
  }
  const [code, signal] = await exited;
  return { code, signal, log: watcher.lines, stdout };
}

/** The files' sha256, and the manifest records that do not depend on timing (stages and throughput do). */
function fileHashes(m: DatasetManifest): Record<string, unknown> {
  const p = m.pipeline ?? {};
  return {
    ...Object.fromEntries(Object.entries(m.files).map(([name, f]) => [name, f.sha256])),
    manifest: { source: m.source, counts: m.counts, tokenizer: m.tokenizer, sources: p['sources'], pipelineCounts: p['counts'], bad: p['bad_input'], bm25: p['bm25'], docids: p['docids'], pseudo: p['pseudo_queries'] },
  };
}
const manifestOf = (r: Run): DatasetManifest => JSON.parse(r.stdout) as DatasetManifest;
const resumedLine = (r: Run): LogLine | undefined => r.log.find((l) => l.msg === 'prepare resumed');
/** Stages that the run started itself (the progress.ts 'stage' lines). */
const started = (r: Run): string[] => r.log.filter((l) => l.msg === 'stage').map((l) => String(l['stage']));
const workFolders = (dir: string): string[] => readdirSync(dir).filter((e) => e.includes('.prepare-'));

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-prepare-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The uninterrupted run every resumed one is compared with. */
let reference: Record<string, unknown> | undefined;
async function referenceHashes(t: { after(fn: () => void): void }): Promise<Record<string, unknown>> {
  if (reference) return reference;
  const dir = tmp(t);
  const r = await prepare(path.join(dir, 'ref'));
  assert.equal(r.code, 0, JSON.stringify(r.log.slice(-3)));
  assert.equal(resumedLine(r), undefined);
  assert.deepEqual(workFolders(dir), [], 'a published run removes its work folder');
  reference = fileHashes(manifestOf(r));
  return reference;
}

const ORDER = ['read', 'docids', 'augment', 'bm25', 'examples'];

for (const after of ['read', 'augment', 'bm25']) {
  test(`killed after the ${after} checkpoint: the rerun restores it and what came before, and publishes the same files`, async (t) => {
    const ref = await referenceHashes(t);
    const dir = tmp(t);
    const out = path.join(dir, 'out');
    const killed = await prepare(out, (l) => l.msg === 'checkpoint saved' && l['stage'] === after);
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(workFolders(dir).length, 1, 'the work folder survives the kill');

    const resumed = await prepare(out);
    assert.equal(resumed.code, 0, JSON.stringify(resumed.log.slice(-3)));
    const line = resumedLine(resumed);
    assert.ok(line, 'the rerun logs that it resumed');
    const restored = line['restored'] as string[];
    // at least the stages up to `after` (the kill lands a little after the line; a fast stage may have finished too)
    assert.deepEqual(restored.slice(0, ORDER.indexOf(after) + 1), ORDER.slice(0, ORDER.indexOf(after) + 1));
    assert.equal(line['stage'], ORDER[restored.length] ?? 'publish');
    assert.ok(!started(resumed).includes('read'), `the read stage is not redone: ${started(resumed).join(', ')}`);
    if (restored.includes('bm25')) assert.ok(!started(resumed).includes('bm25 index'));
    assert.deepEqual(fileHashes(manifestOf(resumed)), ref);
    assert.deepEqual((manifestOf(resumed).pipeline?.['resumed'] as { restored: string[] }).restored, restored);
    assert.deepEqual(workFolders(dir), []);
  });
}

test('killed inside the examples stage: the rerun cuts the files back to the last checkpoint and goes on from there', async (t) => {
  const ref = await referenceHashes(t);
  const dir = tmp(t);
  const out = path.join(dir, 'out');
  const killed = await prepare(out, (l) => l.msg === 'examples checkpoint' && (l['examples'] as number) >= 300);
  assert.equal(killed.signal, 'SIGKILL');
  const resumed = await prepare(out);
  assert.equal(resumed.code, 0, JSON.stringify(resumed.log.slice(-3)));
  assert.deepEqual(resumedLine(resumed)?.['restored'], ['read', 'docids', 'augment', 'bm25']);
  const from = resumed.log.find((l) => l.msg === 'examples resumed from their checkpoint')?.['fromExample'] as number;
  assert.ok(from >= 300 && from % 100 === 0, `resumed from example ${from}`);
  const total = manifestOf(resumed).counts.train_examples;
  assert.ok(from < total, `${from} of ${total}`);
  const firstCheckpoint = resumed.log.find((l) => l.msg === 'examples checkpoint')?.['examples'] as number;
  assert.equal(firstCheckpoint, from + 100, 'the resumed run writes only the examples after the checkpoint');
  assert.deepEqual(fileHashes(manifestOf(resumed)), ref);
});

test('other options start afresh and remove the stale work folder; a damaged checkpoint or stage file redoes that stage', async (t) => {
  const ref = await referenceHashes(t);
  const dir = tmp(t);
  const out = path.join(dir, 'out');
  const atExamples = (l: LogLine): boolean => l.msg === 'examples checkpoint';
  await prepare(out, atExamples, ['--seed', '99']);
  const [stale] = workFolders(dir);
  assert.ok(stale);

  // other options (the default seed): a fresh start, the seed-99 folder removed
  const fresh = await prepare(out, atExamples);
  assert.equal(fresh.signal, 'SIGKILL');
  assert.equal(resumedLine(fresh), undefined);
  assert.ok(fresh.log.some((l) => l.msg === 'removing the work folder of a prepare with other options or inputs' && l['path'] === path.join(dir, stale)));
  const [work] = workFolders(dir);
  assert.ok(work && work !== stale);

  // a checkpoint cut in half: its stage and every later one are redone, the earlier ones restored
  const augment = path.join(dir, work, 'checkpoint.augment.json');
  writeFileSync(augment, readFileSync(augment, 'utf8').slice(0, 40));
  const damaged = await prepare(out, atExamples);
  assert.equal(damaged.signal, 'SIGKILL');
  assert.ok(damaged.log.some((l) => l.msg === 'checkpoint unreadable: the stage is redone' && l['file'] === augment));
  assert.deepEqual(resumedLine(damaged)?.['restored'], ['read', 'docids']);
  assert.equal(resumedLine(damaged)?.['stage'], 'augment');
  assert.ok(started(damaged).includes('augment stopwords') && !started(damaged).includes('read'));

  // a stage's file cut short (the documents): the checkpoint cannot be restored, everything is redone
  truncateSync(path.join(dir, work, 'documents.text'), 100);
  const redone = await prepare(out);
  assert.equal(redone.code, 0, JSON.stringify(redone.log.slice(-3)));
  assert.ok(redone.log.some((l) => l.msg === 'checkpoint unusable: the stage is redone' && l['stage'] === 'read'));
  assert.equal(resumedLine(redone), undefined);
  assert.ok(started(redone).includes('read'));
  assert.deepEqual(fileHashes(manifestOf(redone)), ref);
  assert.deepEqual(workFolders(dir), []);
});

test('semantic docids: killed after the docids checkpoint, the rerun reads the saved docids instead of embedding and clustering again', async (t) => {
  const semantic = ['--docids', 'semantic', '--semantic-k', '4', '--semantic-max-leaf', '50'];
  const dir = tmp(t);
  const ref = await prepare(path.join(dir, 'ref'), undefined, semantic);
  assert.equal(ref.code, 0, JSON.stringify(ref.log.slice(-3)));
  const out = path.join(dir, 'out');
  const killed = await prepare(out, (l) => l.msg === 'checkpoint saved' && l['stage'] === 'docids', semantic);
  assert.equal(killed.signal, 'SIGKILL');
  const resumed = await prepare(out, undefined, semantic);
  assert.equal(resumed.code, 0, JSON.stringify(resumed.log.slice(-3)));
  assert.deepEqual((resumedLine(resumed)?.['restored'] as string[] | undefined)?.slice(0, 2), ['read', 'docids']);
  assert.ok(!started(resumed).includes('embed') && !started(resumed).includes('cluster'), started(resumed).join(', '));
  assert.deepEqual(fileHashes(manifestOf(resumed)), fileHashes(manifestOf(ref)));
});
