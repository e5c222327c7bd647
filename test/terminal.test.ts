/**
 * What a person sees: `coordinator start` under a pseudo-terminal (util-linux's `script`) draws a
 * progress bar whose step count advances and readable lines, never a raw JSON record; the same run
 * with stderr to a file writes only pino JSON lines, each one parseable. And the console's pieces on
 * their own: a record's line, the bar's text, the bar drawn over the lines that scroll above it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { formatRecord, progressOf } from '../shared/runtime/console/records.js';
import { ProgressBar, clock } from '../shared/runtime/console/progress_bar.js';
import { TerminalSink } from '../shared/runtime/console/terminal_sink.js';
import { formatTopTable } from '../coordinator/telemetry/top_table.js';

const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const STEPS = 12;
// the log reports every 5th step; on a terminal the bar moves every step
const LOG_EVERY = 5;
const RUN = ['start', '--workers', '2', '--steps', String(STEPS), '--batch-size', '8', '--max-queries', '2', '--log-every', String(LOG_EVERY),
  '--checkpoint-every', '6', '--no-nats', '--metrics-port', '0'];

/** The screen a terminal shows after `raw`: carriage return, newline, erase line, cursor up; colours dropped. */
function screenOf(raw: string): string[] {
  const lines: string[] = [''];
  let row = 0, col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === '\x1b') {
      const m = /^\x1b\[(\d*)([A-Za-z])/.exec(raw.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      if (m[2] === 'K') lines[row] = '';
      else if (m[2] === 'A') row = Math.max(0, row - Number(m[1] || 1));
      continue;
    }
    if (c === '\r') { col = 0; continue; }
    if (c === '\n') { row += 1; col = 0; if (lines.length <= row) lines.push(''); continue; }
    const l = (lines[row] ?? '').padEnd(col);
    lines[row] = l.slice(0, col) + c + l.slice(col + 1);
    col += 1;
  }
  return lines;
}

test('coordinator start on a terminal: a progress bar that advances and readable lines, no raw JSON', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-tty-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const typescript = path.join(dir, 'typescript');
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...RUN, '--run-dir', path.join(dir, 'run')].map(quote).join(' ');
  // script -e: its exit code is the command's; the session (everything the terminal received) goes to the file
  await promisify(execFile)('script', ['-q', '-e', '-c', command, typescript], { cwd: REPO_ROOT, env: { ...process.env, COLUMNS: '160' }, maxBuffer: 64 << 20 });
  const raw = readFileSync(typescript, 'utf8');
  // the bar as it was drawn, redraw after redraw: its step count goes up to the last step
  const counts = [...raw.matchAll(new RegExp(`train  \\[[#-]+\\]  (\\d+)/${STEPS} steps  \\d+%  loss [\\d.]+  [\\d.]+ samples/s  \\d+:\\d\\d elapsed  (\\d+:\\d\\d|-) left`, 'g'))].map((m) => Number(m[1]));
  const distinct = [...new Set(counts)];
  assert.ok(distinct.length >= 3, `the bar's step count should advance: drawn ${JSON.stringify(distinct)}`);
  assert.deepEqual(distinct, [...distinct].sort((a, b) => a - b), 'the step count only goes up');
  assert.equal(distinct.at(-1), STEPS);
  assert.ok(distinct.some((s) => s % LOG_EVERY !== 0 && s !== STEPS), `the bar moves between the logged steps: ${JSON.stringify(distinct)}`);
  const screen = screenOf(raw.replace(/^Script started.*\n/, '').replace(/\nScript done.*\n?$/, ''));
  const text = screen.join('\n');
  for (const l of screen) assert.ok(!/^\s*\{"level"/.test(l) && !l.includes('"msg":'), `a raw JSON record on the screen: ${l}`);
  // the bar's last state stays, with the per-rank line under it; the addresses and the run folder come first
  assert.match(text, new RegExp(`train  \\[#{24}\\]  ${STEPS}/${STEPS} steps  100%.*\\n  ranks  0: [\\d.]+/s wait \\d+%  \\|  1: [\\d.]+/s wait \\d+%`));
  assert.equal(screen.filter((l) => l.startsWith(`train  [${'#'.repeat(24)}]  ${STEPS}/${STEPS} steps`)).length, 1, 'the finished bar stays once');
  assert.match(text, /INFO  dashboard     http:\/\/127\.0\.0\.1:\d+\/\n\s+metrics       http:\/\/127\.0\.0\.1:\d+\/metrics/);
  assert.match(text, new RegExp(`run folder    ${path.join(dir, 'run').replace(/[/.]/g, '\\$&')}`));
  assert.match(text, /INFO  checkpoint written  checkpoint=\S+step-00000006/);
  assert.match(text, /INFO  worker  joined  workerId=local-001  rank=1/, 'a worker\'s lines come through the coordinator, readable');
  assert.match(text, /^training   steps 0 -> 12 on 2 worker\(s\)/m, 'the summary follows on stdout');
});

test('coordinator start with stderr to a file: only pino JSON lines, each one parseable', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-notty-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, ...RUN, '--run-dir', path.join(dir, 'run')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
  const lines = stderr.split('\n').filter((l) => l !== '');
  const records = lines.map((l) => {
    try { return JSON.parse(l) as { level: number; msg: string; step?: number; workerId?: string }; } catch { assert.fail(`not a JSON line: ${l}`); }
  });
  for (const r of records) assert.ok(typeof r.level === 'number' && typeof r.msg === 'string', JSON.stringify(r));
  assert.deepEqual(records.filter((r) => r.msg === 'step').map((r) => r.step), [5, 10, STEPS], 'every --log-every step and the last');
  assert.ok(records.some((r) => r.msg === 'joined' && r.workerId === 'local-001'), 'the workers write their own JSON lines to the same stderr');
  assert.ok(!stderr.includes('\x1b['), 'no terminal codes');
});

test('console pieces: a record as a line, progress records, the bar\'s figures and clocks', () => {
  const line = formatRecord({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 5), msg: 'ring broken: regrouping', component: 'cluster', step: 7, reason: 'a b' }, false);
  assert.match(line, /^\d\d:\d\d:05 WARN  cluster  ring broken: regrouping  step=7  reason="a b"$/);
  // a worker id holding terminal codes is printed as data: no ESC or C1 control reaches the screen
  const evil = formatRecord({ level: 30, time: 0, msg: 'worker joined\x1b[2J', workerId: 'w\x1b[1A\x9b2J', note: 'x\x07' }, false);
  assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(evil), JSON.stringify(evil));
  assert.ok(evil.includes('worker joined\\u001b[2J') && evil.includes('workerId=w\\u001b[1A\\u009b2J'), evil);
  const shares = { data: 0, forwardBackward: 1, waiting: 0, allReduce: 0, optimizer: 0 };
  const top = formatTopTable({ v: 1, runId: 'r', telemetry: 'grpc', worldSize: 1, atMs: 0, evaluations: [], workers: [{
    rank: 0, workerId: '\x1b[2Jw', step: 3, samplesPerSec: 1, tokensPerSec: 1, stepMs: 1, shares, loss: 1, lossScale: 1, sparsity: null, bytesSent: 0, rssBytes: 0, recent: [] }] });
  assert.ok(!top.includes('\x1b') && top.includes('\\u001b[2Jw'), top);
  const p = progressOf({ msg: 'step', step: 30, steps: 120, loss: 2.5, etaSec: 90, workers: [{ rank: 0, samplesPerSec: 10, waiting: 0.1 }, { rank: 1, samplesPerSec: 12, waiting: 0.2 }] });
  assert.deepEqual(p && { task: p.task, done: p.done, total: p.total, rate: p.rate }, { task: 'train', done: 30, total: 120, rate: 22 });
  assert.equal(progressOf({ msg: 'worker joined', step: 3 }), undefined);
  assert.deepEqual(progressOf({ msg: 'evaluating', done: 50, total: 200 }), { task: 'eval', done: 50, total: 200, unit: 'queries' });
  const bar = new ProgressBar(p as NonNullable<typeof p>, 10_000, 0);
  const [first, ranks] = bar.lines(12_000);
  assert.equal(first, 'train  [######------------------]  30/120 steps  25%  loss 2.500  22.0 samples/s  0:12 elapsed  1:28 left');
  assert.equal(ranks, '  ranks  0: 10.0/s wait 10%  |  1: 12.0/s wait 20%');
  assert.equal(clock(3725), '1:02:05');
  assert.equal(clock(undefined), '-');
});

test('console sink: prepare\'s stages as bars that end as one line each, other lines above the bar, a child\'s records printed', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-sink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'screen');
  const fd = openSync(file, 'w');
  const sink = new TerminalSink({ fd, columns: () => 200, colour: false, redrawMs: 60_000 });
  const rec = (msg: string, fields: Record<string, unknown>): string => JSON.stringify({ level: 30, time: Date.now(), pid: 1, component: 'prepare', ...fields, msg }) + '\n';
  sink.write(rec('stage', { stage: 'read', unit: 'records' }));                          // no total: a line
  sink.write(rec('stage done', { stage: 'read', items: 10, unit: 'records' }));
  sink.write(rec('stage', { stage: 'embed', total: 100, unit: 'documents' }));           // a bar
  sink.write(rec('progress', { stage: 'embed', done: 40, total: 100, unit: 'documents', perSec: 20 }));
  sink.write(rec('checkpoint saved', { stage: 'read' }));                                // above the bar
  sink.line(JSON.stringify({ level: 40, time: Date.now(), msg: 'heartbeat failed', err: 'x' }), 'local-000');
  sink.line('not json from a child', 'local-000');
  sink.write(rec('progress', { stage: 'embed', done: 100, total: 100, unit: 'documents', perSec: 25 }));
  sink.write(rec('stage done', { stage: 'embed', items: 100, unit: 'documents' }));    // the bar said it
  const step = (n: number): Record<string, unknown> => ({ step: n, steps: 2, loss: 1.5, etaSec: 2 - n, workers: [{ rank: 0, samplesPerSec: 8, waiting: 0 }] });
  sink.showProgress({ msg: 'step', ...step(1) });                                          // a step between the logged ones
  sink.write(rec('step', step(2)));                                                      // the last step: logged...
  sink.showProgress({ msg: 'step', ...step(2) });                                          // ...and shown: one line
  sink.write(rec('stage', { stage: 'bm25 index', total: 50, unit: 'documents' }));
  sink.close();                                                                          // an unfinished bar stays as it was
  closeSync(fd);
  const screen = screenOf(readFileSync(file, 'utf8')).filter((l) => l !== '');
  assert.deepEqual(screen.map((l) => l.replace(/^\d\d:\d\d:\d\d /, '').replace(/\d+:\d\d (elapsed|left)/g, 'T $1').replace(/seconds=\S+/, 'seconds=S')), [
    'INFO  prepare  stage  stage=read  unit=records',
    'INFO  prepare  stage done  stage=read  items=10  unit=records',
    'INFO  prepare  checkpoint saved  stage=read',
    'WARN  local-000  heartbeat failed  err=x',
    'not json from a child',
    'embed  [########################]  100/100 documents  100%  25.0 documents/s  T elapsed  T left',
    'train  [########################]  2/2 steps  100%  loss 1.500  8.00 samples/s  T elapsed  T left',
    'bm25 index  [------------------------]  0/50 documents  0%  T elapsed  - left',
  ]);
});
