/**
 * The coordinator's dashboard in a real headless Chromium (Debian's, through playwright-core)
 * during real runs: with 2 workers the charts draw a series per rank whose figures equal the run's
 * own (read back from /api/workers), and the page tells the run's story (progress and time left,
 * settings, the events with a checkpoint, step numbers on the axes, the evaluation curve); and a
 * run folder whose name is markup is shown as text and runs nothing (stored XSS, issue #15; a worker
 * id holding markup is refused at Join).
 * DSI_DASHBOARD_SCREENSHOT=FILE also saves the 2-worker page there (docs/dashboard.png is one).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { parseWorkersSnapshot } from '../coordinator/telemetry/snapshot.js';
import type { RunView } from '../coordinator/telemetry/run_view.js';
import { CLI, LogWatcher } from './run_cli.js';

const WORKER_CLI = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// long enough to outlast the browser; SIGINT ends it afterwards (checkpoint, exit 0)
const STEPS = 300;
const CHECKPOINT_EVERY = 5;
const EVAL_EVERY = 6;

/** Starts `coordinator start ARGS` (JSON logs on stderr); `record(msg)` resolves the fields of its first record whose message starts so. */
function startCoordinator(t: TestContext, args: string[]): { child: ChildProcess; exited: Promise<number | null>; record: (msg: string) => Promise<Record<string, string>> } {
  const child = spawn(process.execPath, [CLI, 'start', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const log = new LogWatcher(child);
  const record = async (msg: string): Promise<Record<string, string>> => (await log.until((l) => l.msg.startsWith(msg))) as Record<string, string>;
  return { child, exited, record };
}

async function browser(t: TestContext): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (bash .ci/system-packages)`);
  const b = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  t.after(() => b.close());
  return b;
}

test('dashboard in headless Chromium: progress, settings, events and the charts with step numbers show the run', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { child, exited, record } = startCoordinator(t, ['--batch-size', '8', '--steps', String(STEPS), '--workers', '2', '--max-queries', '2', '--json',
    '--log-level', 'info', '--checkpoint-every', String(CHECKPOINT_EVERY), '--eval-every', String(EVAL_EVERY), '--eval-every-queries', '4', '--prune', '0.5',
    '--no-nats', '--metrics-port', '0', '--run-dir', path.join(dir, 'run')]);
  const url = (await record('serving /metrics'))['url'] as string;

  const page = await (await browser(t)).newPage({ viewport: { width: 1060, height: 900 } });
  await page.goto(`${url}/`);
  // the page polls: wait until both ranks passed the second evaluation (checkpoints and masks came before it)
  await page.waitForFunction((s) => Number(document.body.dataset['step']) >= 2 * s + 2 && document.querySelectorAll('#events li[data-type="evaluated"]').length >= 2,
    EVAL_EVERY, { timeout: 180_000 });
  const drawn = await page.evaluate(() => {
    const line = (id: string, rank: number) => {
      const p = document.querySelector(`svg#${id} polyline[data-rank="${rank}"]`);
      return p ? { points: Number(p.getAttribute('data-points')), x: Number(p.getAttribute('data-last-x')), y: Number(p.getAttribute('data-last-y')) } : null;
    };
    const texts = (sel: string) => [...document.querySelectorAll(sel)].map((e) => e.textContent ?? '');
    const bars = [...document.querySelectorAll('svg#breakdown rect')].map((r) => ({ rank: Number(r.getAttribute('data-rank')), phase: r.getAttribute('data-phase'), ms: Number(r.getAttribute('data-ms')) }));
    const rows = [...document.querySelectorAll('#workers tbody tr')].map((r) => r.getAttribute('data-rank'));
    const settings = Object.fromEntries([...document.querySelectorAll('#settings dd')].map((d) => [d.getAttribute('data-key'), d.textContent]));
    const events = [...document.querySelectorAll('#events li')].map((l) => ({ type: l.getAttribute('data-type'), step: l.getAttribute('data-step'), text: l.textContent ?? '' }));
    const progress = document.getElementById('progress') as HTMLElement;
    return {
      throughput: [line('throughput', 0), line('throughput', 1)], loss: line('loss', 0), evaluation: line('evaluation', 0), bars, rows,
      status: document.getElementById('status')?.textContent ?? '', settings, events,
      progress: { step: Number(progress.dataset['step']), steps: Number(progress.dataset['steps']), text: document.getElementById('progress-text')?.textContent ?? '' },
      lossTicks: texts('svg#loss text.tick-x'), lossAxis: texts('svg#loss text.axis-x'), throughputTicks: texts('svg#throughput text.tick-x'),
      yTicks: texts('svg#loss text.tick-y'), marks: [...document.querySelectorAll('svg#loss line[data-event]')].map((m) => m.getAttribute('data-event')),
    };
  });
  const snap = parseWorkersSnapshot(await (await fetch(`${url}/api/workers`)).json());
  const run = await (await fetch(`${url}/api/run`)).json() as RunView;
  const png = await page.screenshot({ fullPage: true });
  if (process.env['DSI_DASHBOARD_SCREENSHOT']) await page.screenshot({ path: process.env['DSI_DASHBOARD_SCREENSHOT'], fullPage: true });
  child.kill('SIGINT');

  // the figures, as before: a series per rank equal to the run's own
  assert.match(drawn.status, /^2\/2 workers reporting, telemetry grpc/);
  assert.deepEqual(drawn.rows, ['0', '1']);
  for (const rank of [0, 1]) {
    const d = drawn.throughput[rank];
    assert.ok(d && d.points >= 3, `rank ${rank}: throughput series ${JSON.stringify(d)}`);
    const same = snap.workers.find((w) => w.rank === rank)?.recent.find((r) => r.step === d.x);
    assert.equal(d.y, same?.samplesPerSec, `rank ${rank} step ${d.x}: chart ${d.y} samples/s, run ${same?.samplesPerSec}`);
    const bars = drawn.bars.filter((b) => b.rank === rank);
    assert.deepEqual(bars.map((b) => b.phase), ['data', 'forwardBackward', 'waiting', 'allReduce', 'optimizer']);
    assert.ok((bars.find((b) => b.phase === 'forwardBackward')?.ms ?? 0) > 0);
  }
  const l = drawn.loss;
  assert.ok(l && l.points >= 3);
  assert.equal(l.y, snap.workers[0]?.recent.find((r) => r.step === l.x)?.loss, `loss at step ${l.x}`);

  // progress: how far, of how many, and time left
  assert.equal(drawn.progress.steps, STEPS);
  assert.ok(drawn.progress.step >= 2 * EVAL_EVERY + 2, JSON.stringify(drawn.progress));
  assert.match(drawn.progress.text, new RegExp(`^step ${drawn.progress.step} / ${STEPS} \\(\\d+\\.\\d%\\) · \\d+:\\d\\d elapsed · about \\d+:\\d\\d left$`));
  // settings: what the run trains
  assert.deepEqual({ ...drawn.settings, data: undefined, 'run folder': undefined }, {
    preset: 't5-tiny', mode: 'full', docids: 'atomic', workers: '2 (at least 1)', wire: 'fp32 over tcp', batch: '8', 'learning rate': String(run.settings.learningRate), steps: String(STEPS),
    'pruning target': '50.0%', 'evaluate every': `${EVAL_EVERY} steps`, 'checkpoint every': `${CHECKPOINT_EVERY} steps`, data: undefined, 'run folder': undefined,
  });
  assert.equal(drawn.settings['run folder'], path.join(dir, 'run'));
  // events: the joins, the ring, a checkpoint, the masks and the evaluation, as the coordinator recorded them
  const types = drawn.events.map((e) => e.type);
  for (const type of ['run_started', 'worker_joined', 'ring_formed', 'checkpoint_written', 'masks_broadcast', 'evaluated'])
    assert.ok(types.includes(type), `no ${type} in the timeline: ${JSON.stringify(types)}`);
  assert.equal(types.filter((x) => x === 'worker_joined').length, 2);
  const ckpt = drawn.events.find((e) => e.type === 'checkpoint_written' && e.step === String(CHECKPOINT_EVERY));
  assert.ok(ckpt && ckpt.text.includes(`step ${CHECKPOINT_EVERY}`) && ckpt.text.includes(`checkpoint written: ${path.join(dir, 'run', 'checkpoints')}`), JSON.stringify(ckpt));
  assert.equal(drawn.events.length, run.events.length, 'every recorded event is listed');
  assert.ok(drawn.marks.includes('checkpoint_written') && drawn.marks.includes('evaluated'), `event marks on the loss chart: ${drawn.marks}`);
  // axes: step numbers within the steps drawn, titled; values on the y axis
  const ticks = drawn.lossTicks.map(Number);
  assert.ok(ticks.length >= 2 && ticks.every((x) => Number.isInteger(x) && x >= 1 && x <= l.x), `loss x ticks ${drawn.lossTicks} (last step ${l.x})`);
  assert.ok(drawn.throughputTicks.length >= 2);
  assert.deepEqual(drawn.lossAxis, ['step']);
  assert.ok(drawn.yTicks.length >= 2);
  // the evaluation curve: its last point is the run's last evaluation
  const lastEval = snap.evaluations.at(-1);
  assert.ok(drawn.evaluation && lastEval && drawn.evaluation.points === 2 && drawn.evaluation.x === lastEval.step && drawn.evaluation.y === lastEval.hitsAt1, JSON.stringify({ drawn: drawn.evaluation, lastEval }));
  assert.deepEqual(png.subarray(1, 4).toString(), 'PNG');
  assert.equal(await exited, 0);
});

test('dashboard: markup in the run\'s text (its folder name) shows as text and runs nothing (stored XSS); a worker id holding markup is refused at Join', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-dashboard-xss-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // worker ids are held to letters, digits and . _ / - at the edge (issue #15), so the markup comes in where
  // text is free: the run folder's name, which the settings show (no '/' in a file name: no closing tags)
  const evil = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2<b>bold<svg onload=alert(2)>';
  const runDir = path.join(dir, evil);
  const { child, exited, record } = startCoordinator(t, ['--batch-size', '8', '--steps', String(STEPS), '--workers', '1', '--no-spawn-workers', '--json',
    '--log-level', 'info', '--checkpoint-every', '0', '--no-nats', '--metrics-port', '0', '--run-dir', runDir]);
  const address = (await record('coordinator listening'))['address'] as string;
  const url = (await record('serving /metrics'))['url'] as string;
  const refused = spawn(process.execPath, [WORKER_CLI, '--coordinator', address, '--worker-id', '<b>x</b>', '--no-nats'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (refused.exitCode === null) refused.kill('SIGKILL'); });
  let refusal = '';
  refused.stderr?.on('data', (b: Buffer) => { refusal += b.toString(); });
  const refusedCode = await new Promise<number | null>((resolve) => refused.once('exit', (code) => resolve(code)));
  assert.notEqual(refusedCode, 0, 'a worker id holding markup must be refused');
  assert.match(refusal, /worker_id/);
  const worker = spawn(process.execPath, [WORKER_CLI, '--coordinator', address, '--worker-id', 'w-0', '--no-nats'], { cwd: REPO_ROOT, stdio: 'ignore' });
  t.after(() => { if (worker.exitCode === null) worker.kill('SIGKILL'); });

  const page = await (await browser(t)).newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  await page.goto(`${url}/`);
  await page.waitForFunction(() => Number(document.body.dataset['step']) >= 2 && document.querySelector('#events li[data-type="ring_formed"]') !== null, undefined, { timeout: 120_000 });
  await page.waitForTimeout(1500);   // a few more polls: any markup would have been parsed and its handlers run by now
  const seen = await page.evaluate(() => ({
    folder: document.querySelector('#settings dd[data-key="run folder"]')?.textContent,
    imgs: document.querySelectorAll('img').length, scripts: document.querySelectorAll('script').length, bolds: document.querySelectorAll('b').length,
    svgs: document.querySelectorAll('svg [onload], svg[onload]').length,
    xss: (window as unknown as { __xss?: number }).__xss ?? null,
  }));
  child.kill('SIGINT');
  assert.ok(seen.folder?.endsWith(evil), JSON.stringify(seen));
  assert.deepEqual({ imgs: seen.imgs, scripts: seen.scripts, bolds: seen.bolds, svgs: seen.svgs, xss: seen.xss, dialogs }, { imgs: 0, scripts: 1, bolds: 0, svgs: 0, xss: null, dialogs: [] });
  assert.equal(await exited, 0);
});
