/**
 * The coordinator's dashboard in a real headless Chromium (Debian's, through playwright-core)
 * during a real 2-worker run: the charts draw a series per rank, and what they show equals the
 * run's own figures for the same step (read back from /api/workers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { parseWorkersSnapshot } from '../coordinator/telemetry/snapshot.js';

const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// long enough to outlast the browser; SIGINT ends it afterwards (checkpoint, exit 0)
const STEPS = 300;

test('dashboard in headless Chromium: throughput, step-time breakdown and loss charts show the run\'s figures', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'start', '--batch-size', '8', '--steps', String(STEPS), '--workers', '2', '--max-queries', '2', '--json',
    '--log-level', 'info', '--checkpoint-every', '0', '--no-nats', '--metrics-port', '0', '--run-dir', path.join(dir, 'run')],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let partial = '';
    child.once('exit', (code) => reject(new Error(`coordinator exited (${code}) before serving`)));
    child.stderr.on('data', (b: Buffer) => {
      partial += b.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) {
        try { const l = JSON.parse(p) as { msg: string; url?: string }; if (l.msg.startsWith('serving /metrics') && l.url) resolve(l.url); } catch { /* not a log line */ }
      }
    });
  });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${url}/`);
  // the page polls /api/workers: wait until it has drawn 3 steps of both ranks
  await page.waitForFunction(() => Number(document.body.dataset['step']) >= 3, undefined, { timeout: 120_000 });
  const drawn = await page.evaluate(() => {
    const line = (id: string, rank: number) => {
      const p = document.querySelector(`svg#${id} polyline[data-rank="${rank}"]`);
      return p ? { points: Number(p.getAttribute('data-points')), x: Number(p.getAttribute('data-last-x')), y: Number(p.getAttribute('data-last-y')) } : null;
    };
    const bars = [...document.querySelectorAll('svg#breakdown rect')].map((r) => ({ rank: Number(r.getAttribute('data-rank')), phase: r.getAttribute('data-phase'), ms: Number(r.getAttribute('data-ms')) }));
    const rows = [...document.querySelectorAll('#workers tbody tr')].map((r) => r.getAttribute('data-rank'));
    return { throughput: [line('throughput', 0), line('throughput', 1)], loss: line('loss', 0), bars, rows, status: document.getElementById('status')?.textContent ?? '' };
  });
  const snap = parseWorkersSnapshot(await (await fetch(`${url}/api/workers`)).json());
  child.kill('SIGINT');

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
  assert.equal(await exited, 0);
});
