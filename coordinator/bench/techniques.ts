/**
 * `bench techniques`: the seed's Table 1 with retrieval quality added. Each technique trains on the
 * same data with the same seed and step budget through the real cluster (worker processes, ring
 * all-reduce), then is evaluated; per technique: trainable parameters, bytes all-reduced per step,
 * peak memory, step time, throughput and Hits@1 / Hits@10 / MRR@10.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/runtime/config.js';
import type { LogConsole, Logger } from '../../shared/runtime/log.js';
import { bytesPerElement } from '../../worker/collective/wire.js';
import { runCluster } from '../cluster/run_cluster.js';

export const TECHNIQUES: Record<string, string[]> = {
  full: ['--mode', 'full'],
  'full+prune': ['--mode', 'full', '--prune', '0.5'],
  lora: ['--mode', 'lora'],
  qlora: ['--mode', 'qlora'],
  'full+fp16-wire': ['--mode', 'full', '--wire', 'fp16'],
};

export interface TechniqueRow {
  technique: string;
  trainable_parameters: number;
  allreduce_bytes_per_step: number;   // the fused buffer each rank reduces (gradients + loss) in the wire format
  peak_rss_bytes: number;             // largest worker process RSS
  peak_tensor_bytes: number;          // largest tf.memory().numBytes of a worker
  step_ms: number;                    // mean over steps and workers
  samples_per_s: number;
  loss_last: number;
  hits_at_1: number;
  hits_at_10: number;
  mrr_at_10: number;
}

/**
 * Runs every technique with `args` as the shared settings (steps, workers, data...). `terminal`: a
 * terminal's console, which takes the workers' lines and every step's progress as in `coordinator start`.
 */
export async function benchTechniques(args: string[], log: Logger, only?: string[], terminal?: Pick<LogConsole, 'childLine' | 'progress'>): Promise<TechniqueRow[]> {
  const rows: TechniqueRow[] = [];
  const root = mkdtempSync(path.join(os.tmpdir(), 'dsi-techniques-'));
  try {
    for (const [name, extra] of Object.entries(TECHNIQUES)) {
      if (only && !only.includes(name)) continue;
      const cfg = loadConfig({ args: [...args, ...extra, '--run-dir', path.join(root, name)] });
      log.info({ technique: name }, 'bench techniques: training');
      const onTerminal = terminal ? { childLine: terminal.childLine, onStep: (p: object) => terminal.progress('step', p) } : {};
      const s = await runCluster(cfg, log, { resume: false, stopRequested: () => false, ...onTerminal });
      const w = s.workers;
      rows.push({
        technique: name, trainable_parameters: s.trainable_parameters,
        allreduce_bytes_per_step: (s.trainable_parameters + 1) * bytesPerElement(cfg.cluster.wire),
        peak_rss_bytes: Math.max(...w.map((x) => x.peak_rss_bytes)), peak_tensor_bytes: Math.max(...w.map((x) => x.peak_tensor_bytes)),
        step_ms: w.reduce((n, x) => n + x.step_ms, 0) / w.length, samples_per_s: s.samples_per_s, loss_last: s.loss_last,
        hits_at_1: s.eval?.hits_at_1 ?? NaN, hits_at_10: s.eval?.hits_at_10 ?? NaN, mrr_at_10: s.eval?.mrr_at_10 ?? NaN,
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

export function formatTechniques(rows: TechniqueRow[]): string {
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  const head = '| technique | trainable | all-reduced/step (MiB) | peak RSS (MiB) | peak tensors (MiB) | step ms | samples/s | loss | Hits@1 | Hits@10 | MRR@10 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  return head + rows.map((r) => `| ${r.technique} | ${r.trainable_parameters.toLocaleString('en-US')} | ${mib(r.allreduce_bytes_per_step)} | ${mib(r.peak_rss_bytes)} | ${mib(r.peak_tensor_bytes)} | ${r.step_ms.toFixed(0)} | ${r.samples_per_s.toFixed(1)} | ${r.loss_last.toFixed(3)} | ${r.hits_at_1.toFixed(3)} | ${r.hits_at_10.toFixed(3)} | ${r.mrr_at_10.toFixed(4)} |`).join('\n') + '\n';
}
