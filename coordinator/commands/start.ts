/** `coordinator start`: train on the configured data (default: the bundled sample), evaluate, summarise. */
import { describeConfig, hasFlag, loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { trainAndEvaluate, type RunSummary } from '../train_run.js';
import { formatAdapter } from '../../shared/webgpu.js';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator start [--workers N] [--steps N] [--data DIR] [--json] ...\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  const log = createLogger({ level: cfg.runtime.logLevel });
  log.info({ config: cfg }, 'config');
  if (cfg.cluster.workers !== 1) {
    process.stderr.write(`coordinator start: --workers ${cfg.cluster.workers}: this build trains in one process; multi-worker data parallelism is the cluster issue's work. Use --workers 1.\n`);
    return 2;
  }
  const summary = await trainAndEvaluate(cfg, log);
  process.stdout.write(cfg.runtime.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
  return 0;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function formatSummary(s: RunSummary): string {
  return [
    `run        ${s.run_dir}`,
    `data       ${s.data_dir}`,
    `model      ${s.preset}, ${(s.parameters / 1e6).toFixed(2)}M parameters, backend ${s.backend}${s.device ? ` on ${formatAdapter(s.device)}` : ''}`,
    `training   ${s.steps} steps in ${s.train_seconds.toFixed(1)} s, ${s.samples_per_s.toFixed(1)} samples/s, ${s.tokens_per_s.toFixed(0)} tokens/s (input + target)`,
    `loss       ${s.loss_first.toFixed(3)} -> ${s.loss_last.toFixed(3)}`,
    `eval       ${s.eval.queries} ${s.eval.split} queries, beam ${s.eval.beam_size}: Hits@1 ${pct(s.eval.hits_at_1)}  Hits@10 ${pct(s.eval.hits_at_10)}  MRR@10 ${s.eval.mrr_at_10.toFixed(4)}`,
    `trec run   ${s.eval.trec_run}`,
    `checkpoint ${s.checkpoint}`,
    '',
  ].join('\n');
}
