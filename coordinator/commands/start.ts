/**
 * `coordinator start [--workers N] [--resume]`: the coordinator and N local worker processes
 * train on the configured data (default: the bundled sample), evaluate and summarise.
 * SIGINT/SIGTERM: finish the current step, checkpoint, stop the workers, exit 0.
 */
import { describeConfig, hasFlag, loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { formatAdapter } from '../../shared/webgpu.js';
import { runCluster, type ClusterSummary } from '../cluster/run_cluster.js';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator start [--workers N] [--steps N] [--data DIR] [--run-dir DIR [--resume]] [--json] ...\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  const log = createLogger({ level: cfg.runtime.logLevel });
  log.info({ config: cfg }, 'config');
  let stop = false;
  const onSignal = (signal: string): void => {
    if (stop) return;
    stop = true;
    log.warn({ signal }, 'stopping after the current step (checkpoint, then the workers stop)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runCluster(cfg, log, { resume: hasFlag(args, 'resume'), stopRequested: () => stop });
  process.stdout.write(cfg.runtime.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
  return 0;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function formatSummary(s: ClusterSummary): string {
  const lines = [
    `run        ${s.run_dir} (id ${s.run_id})`,
    `data       ${s.data_dir}`,
    `model      ${s.preset} (${s.mode}), ${(s.parameters / 1e6).toFixed(2)}M parameters (${(s.trainable_parameters / 1e6).toFixed(2)}M trained), backend ${s.backend}${s.device ? ` on ${formatAdapter(s.device)}` : ''}`,
    `training   steps ${s.start_step} -> ${s.steps} on ${s.world_size} worker(s), wire ${s.wire}, ${s.train_seconds.toFixed(1)} s, ${s.samples_per_s.toFixed(1)} samples/s${s.skipped_steps ? `, ${s.skipped_steps} skipped (overflow)` : ''}${s.interrupted ? ', INTERRUPTED' : ''}`,
    `loss       ${s.loss_first.toFixed(3)} -> ${s.loss_last.toFixed(3)}`,
  ];
  for (const w of s.workers)
    lines.push(`  rank ${w.rank}   ${w.samples_per_s.toFixed(1)} samples/s  ${w.tokens_per_s.toFixed(0)} tokens/s  compute ${pct(w.compute_share)}  all-reduce ${pct(w.all_reduce_share)}  waiting ${pct(w.waiting_share)}`);
  if (s.eval) {
    lines.push(`eval       ${s.eval.queries} ${s.eval.split} queries, beam ${s.eval.beam_size}: Hits@1 ${pct(s.eval.hits_at_1)}  Hits@10 ${pct(s.eval.hits_at_10)}  MRR@10 ${s.eval.mrr_at_10.toFixed(4)}`);
    lines.push(`trec run   ${s.eval.trec_run}`);
  }
  lines.push(`checkpoint ${s.checkpoint}`, '');
  return lines.join('\n');
}
