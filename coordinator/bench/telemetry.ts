/**
 * `coordinator bench telemetry`: what monitoring costs training.
 *  1) End to end: `coordinator start --workers N` runs alternating telemetry off (--no-nats
 *     --metrics-port -1 --no-timeline) and on (local nats-server, /metrics, timeline); the median
 *     samples/s of each and their relative difference. Alternating pairs spread machine noise.
 *  2) On the worker's step path: the time to build a step's telemetry, publish it to a real local
 *     nats-server and build the heartbeat metrics, per step (mean over many), next to the step time.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import { TelemetryConnection } from '../../shared/runtime/telemetry/connection.js';
import { NatsServer } from '../../shared/runtime/telemetry/nats_server.js';
import { stepSubject } from '../../shared/runtime/telemetry/payloads.js';
import { stepTelemetry, workerMetrics } from '../../shared/training/step_record.js';

const run = promisify(execFile);
/** Publishes timed on the step path (enough for a stable mean at microseconds each). */
const PUBLISH_ITERATIONS = 5_000;

export interface TelemetryBenchOptions {
  pairs: number; steps: number; workers: number; batchSize: number;
  /** Each item done (a terminal's progress bar: LogConsole.progress); nothing is logged. */
  progress?: (msg: string, fields: object) => void;
}

export interface TelemetryBench {
  workers: number; steps: number; batch_size: number; pairs: number;
  off_samples_per_s: number[]; on_samples_per_s: number[];
  off_median: number; on_median: number;
  /** (on - off) / off of the medians: negative means telemetry made it slower. */
  relative_change: number;
  step_ms_median: number;
  /** Worker-side cost of telemetry per step, and its share of a step. */
  publish_us_per_step: number;
  publish_share_of_step: number;
  load_average: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function samplesPerSec(o: TelemetryBenchOptions, on: boolean, dir: string, i: number): Promise<number> {
  const off = on ? [] : ['--no-nats', '--metrics-port', '-1', '--no-timeline'];
  const r = await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js'), 'start', '--workers', String(o.workers), '--steps', String(o.steps),
    '--batch-size', String(o.batchSize), '--max-queries', '1', '--checkpoint-every', '0', '--log-level', 'warn', '--json',
    '--run-dir', path.join(dir, `${on ? 'on' : 'off'}-${i}`), ...off], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  return (JSON.parse(r.stdout) as { samples_per_s: number }).samples_per_s;
}

/** Mean microseconds per step of the worker's telemetry work against a real nats-server. */
async function publishCost(): Promise<number> {
  const server = await NatsServer.start();
  const conn = new TelemetryConnection({ url: server.url, name: 'bench', log: pino({ level: 'silent' }) });
  try {
    await conn.connection();
    const t0 = performance.now();
    for (let i = 0; i < PUBLISH_ITERATIONS; i++) {
      const t = stepTelemetry({ runId: 'bench', rank: 0, workerId: 'bench-0', lossScale: 32768, sparsity: null, rssBytes: process.memoryUsage().rss }, {
        step: i + 1, loss: 5.5, lr: 1e-3, gradNorm: 1.2, skipped: false, samples: 8, localSamples: 4, peakTensorBytes: 1e6, tokens: 300,
        startedAtMs: Date.now(), dataMs: 1.5, computeMs: 300, reduceMs: 40, waitMs: 10, bytesSent: 1 << 22, optimizerMs: 20, firstPosition: 8 * i,
      });
      conn.publish(stepSubject('bench', 0), t);
      workerMetrics(t);
    }
    const perStepUs = ((performance.now() - t0) * 1000) / PUBLISH_ITERATIONS;
    return perStepUs;
  } finally {
    await conn.close();
    await server.close();
  }
}

export async function benchTelemetry(o: TelemetryBenchOptions): Promise<TelemetryBench> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-bench-telemetry-'));
  const off: number[] = [], on: number[] = [];
  try {
    for (let i = 0; i < o.pairs; i++) {
      // alternate which goes first, so a trend in machine load does not favour one side
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const telemetry of order) {
        (telemetry ? on : off).push(await samplesPerSec(o, telemetry, dir, i));
        o.progress?.('progress', { stage: 'bench telemetry', done: on.length + off.length, total: 2 * o.pairs, unit: 'runs' });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const offMedian = median(off), onMedian = median(on);
  const stepMs = (o.batchSize * 1000) / median([...off, ...on]);
  const us = await publishCost();
  return {
    workers: o.workers, steps: o.steps, batch_size: o.batchSize, pairs: o.pairs, off_samples_per_s: off, on_samples_per_s: on,
    off_median: offMedian, on_median: onMedian, relative_change: (onMedian - offMedian) / offMedian, step_ms_median: stepMs,
    publish_us_per_step: us, publish_share_of_step: us / 1000 / stepMs, load_average: os.loadavg(),
  };
}

export function formatTelemetryBench(b: TelemetryBench): string {
  const f = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  return [
    `telemetry off vs on: ${b.workers} workers, ${b.steps} steps, batch ${b.batch_size}, ${b.pairs} alternating pairs`,
    `  off  samples/s ${f(b.off_samples_per_s)}  median ${b.off_median.toFixed(2)}`,
    `  on   samples/s ${f(b.on_samples_per_s)}  median ${b.on_median.toFixed(2)}`,
    `  change of the medians ${(b.relative_change * 100).toFixed(1)}%  (load average ${b.load_average.map((x) => x.toFixed(1)).join(' ')})`,
    `  worker step path: ${b.publish_us_per_step.toFixed(1)} us per step for telemetry (build, publish to NATS, heartbeat metrics) = ${(b.publish_share_of_step * 100).toFixed(4)}% of a ${b.step_ms_median.toFixed(0)} ms step`,
    '',
  ].join('\n');
}
