/**
 * The run's timeline.json (Chrome trace event format) after a real 2-worker run: it parses, names
 * a process per rank, has every phase of every step of every rank, and within a rank no two
 * phases overlap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { TIMELINE_PHASES, type ChromeTraceEvent } from '../coordinator/telemetry/timeline.js';

const run = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
const STEPS = 5;

test('timeline.json: every rank, every step, the four phases in order, no overlap within a rank', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-timeline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runDir = path.join(dir, 'run');
  const r = await run(process.execPath, [CLI, 'start', '--batch-size', '8', '--steps', String(STEPS), '--workers', '2', '--max-queries', '2', '--json',
    '--log-level', 'warn', '--checkpoint-every', '0', '--no-nats', '--metrics-port', '-1', '--run-dir', runDir], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const summary = JSON.parse(r.stdout) as { telemetry: { timeline: string; metrics_url: string } };
  assert.equal(summary.telemetry.timeline, path.join(runDir, 'timeline.json'));
  assert.equal(summary.telemetry.metrics_url, '');             // --metrics-port -1: off

  const events = JSON.parse(readFileSync(summary.telemetry.timeline, 'utf8')) as ChromeTraceEvent[];
  assert.ok(Array.isArray(events));
  for (const rank of [0, 1]) {
    const meta = events.find((e) => e.ph === 'M' && e.pid === rank && e.name === 'process_name');
    assert.match(String(meta?.args?.['name']), new RegExp(`^rank ${rank} \\(local-00${rank}\\)$`));
    const mine = events.filter((e) => e.ph === 'X' && e.pid === rank).sort((a, b) => a.ts - b.ts);
    assert.equal(mine.length, STEPS * TIMELINE_PHASES.length, `rank ${rank}: events`);
    mine.forEach((e, i) => {
      assert.equal(e.name, TIMELINE_PHASES[i % TIMELINE_PHASES.length], `rank ${rank} event ${i}: phase order`);
      assert.equal(e.args?.['step'], Math.floor(i / TIMELINE_PHASES.length) + 1, `rank ${rank} event ${i}: step`);
      assert.ok(Number.isInteger(e.ts) && Number.isInteger(e.dur) && (e.dur ?? -1) >= 0, JSON.stringify(e));
      const prev = mine[i - 1];
      if (prev) assert.ok(e.ts >= prev.ts + (prev.dur ?? 0), `rank ${rank}: ${JSON.stringify(prev)} overlaps ${JSON.stringify(e)}`);
    });
    // forward+backward is real work: never an empty span
    assert.ok(mine.filter((e) => e.name === 'forward+backward').every((e) => (e.dur ?? 0) > 0));
  }
  // lockstep: rank 1's step 2 starts after rank 0's step 1 ends (the all-reduce holds them together)
  const at = (rank: number, step: number, name: string) => events.find((e) => e.pid === rank && e.name === name && e.args?.['step'] === step) as ChromeTraceEvent;
  const end = (e: ChromeTraceEvent) => e.ts + (e.dur ?? 0);
  assert.ok(at(1, 2, 'forward+backward').ts >= end(at(0, 1, 'all-reduce')) - 5_000, 'ranks in lockstep (5 ms of clock skew between processes allowed)');
});
