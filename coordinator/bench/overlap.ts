/**
 * `bench overlap`: what reducing gradient buckets during the backward pass (cluster.bucketBytes)
 * gains in 2-worker scaling. Side by side in one session, alternating: 1 worker, then 2 workers with
 * one all-reduce after the backward pass (--bucket-bytes 0), then 2 workers with buckets, for
 * `rounds` rounds; the same data, seed and steps in every run (the real cluster: worker processes,
 * the ring). Per run: samples/s (the run's, first step's warm-up included), mean step ms, and the
 * reduce the step waits for after its compute phase (step ms x the all-reduce and waiting shares).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/runtime/config.js';
import type { LogConsole, Logger } from '../../shared/runtime/log.js';
import { runCluster } from '../cluster/run_cluster.js';

export interface OverlapRow {
  round: number;
  workers: number;
  bucket_bytes: number;
  samples_per_s: number;
  step_ms: number;
  /** Mean over workers of the reduce left after the compute phase, per step. */
  exposed_reduce_ms: number;
  /** Loss of the last step: the same with and without buckets (2 workers add in either order exactly). */
  loss_last: number;
}

export interface OverlapBench {
  rows: OverlapRow[];
  /** Per round: 2-worker samples/s over 1-worker, without and with buckets. */
  scaling: Array<{ round: number; whole: number; buckets: number }>;
}

/**
 * `args`: the shared run settings (preset, steps, batch...); `bucketBytes`: the bucketed runs' size.
 * `terminal`: a terminal's console (the workers' lines, each step's progress).
 */
export async function benchOverlap(args: string[], o: { rounds: number; bucketBytes: number; log: Logger; terminal?: Pick<LogConsole, 'childLine' | 'progress'> }): Promise<OverlapBench> {
  const rows: OverlapRow[] = [];
  const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-overlap-'));
  const runs: Array<{ workers: number; bucketBytes: number }> = [{ workers: 1, bucketBytes: o.bucketBytes }, { workers: 2, bucketBytes: 0 }, { workers: 2, bucketBytes: o.bucketBytes }];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const r of runs) {
        const name = `r${round}-w${r.workers}-b${r.bucketBytes}`;
        const cfg = loadConfig({ args: [...args, '--workers', String(r.workers), '--bucket-bytes', String(r.bucketBytes), '--run-dir', path.join(root, name)] });
        o.log.info({ round, workers: r.workers, bucketBytes: r.bucketBytes }, 'bench overlap: training');
        const onTerminal = o.terminal ? { childLine: o.terminal.childLine, onStep: (p: object) => o.terminal?.progress('step', p) } : {};
        const s = await runCluster(cfg, o.log, { resume: false, stopRequested: () => false, ...onTerminal });
        const w = s.workers;
        const mean = (f: (x: (typeof w)[number]) => number): number => w.reduce((n, x) => n + f(x), 0) / w.length;
        rows.push({
          round, workers: r.workers, bucket_bytes: r.bucketBytes, samples_per_s: s.samples_per_s, step_ms: mean((x) => x.step_ms),
          exposed_reduce_ms: mean((x) => x.step_ms * (x.all_reduce_share + x.waiting_share)), loss_last: s.loss_last,
        });
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const scaling = [];
  for (let round = 1; round <= o.rounds; round++) {
    const at = (workers: number, bucketBytes: number): number => rows.find((x) => x.round === round && x.workers === workers && x.bucket_bytes === bucketBytes)?.samples_per_s ?? NaN;
    const one = at(1, o.bucketBytes);
    scaling.push({ round, whole: at(2, 0) / one, buckets: at(2, o.bucketBytes) / one });
  }
  return { rows, scaling };
}

export function formatOverlap(b: OverlapBench): string {
  const head = '| round | workers | bucket bytes | samples/s | step ms | exposed reduce ms | last loss |\n|---:|---:|---:|---:|---:|---:|---:|\n';
  const rows = b.rows.map((r) => `| ${r.round} | ${r.workers} | ${r.bucket_bytes} | ${r.samples_per_s.toFixed(1)} | ${r.step_ms.toFixed(0)} | ${r.exposed_reduce_ms.toFixed(1)} | ${r.loss_last.toFixed(4)} |`).join('\n');
  const scaling = b.scaling.map((s) => `round ${s.round}: 2 workers / 1, one all-reduce ${s.whole.toFixed(2)}x, buckets ${s.buckets.toFixed(2)}x`).join('\n');
  return `${head}${rows}\n\n${scaling}\n`;
}
