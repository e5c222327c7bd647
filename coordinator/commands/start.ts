/**
 * `coordinator start [--workers N] [--resume]`: the coordinator and N local worker processes
 * train on the configured data (default: the bundled sample), evaluate and summarise.
 * SIGINT/SIGTERM: finish the current step, checkpoint, stop the workers, exit 0 (or --interrupted-exit-code).
 */
import { describeConfig, flagValue, hasFlag, loadConfig, type Config } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { openConsole, type Logger } from '../../shared/runtime/log.js';
import { formatAdapter } from '../../shared/runtime/webgpu.js';
import { runCluster, type ClusterSummary } from '../cluster/run_cluster.js';
import { newestValidCheckpoint } from '../cluster/checkpoints.js';
import { resolveRunDir } from '../run_inputs.js';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator start [--workers N] [--steps N] [--data DIR] [--run-dir DIR [--resume | --resume=auto]] [--json] ...\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  const terminal = openConsole({ level: cfg.runtime.logLevel, format: cfg.runtime.logFormat });
  const { log } = terminal;
  log.info({ config: cfg }, 'config');
  let stop = false;
  const onSignal = (signal: string): void => {
    if (stop) return;
    stop = true;
    log.warn({ signal }, 'stopping after the current step (checkpoint, then the workers stop)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: ClusterSummary;
  try {
    // on a terminal the bar moves every step, and the workers' lines come through the console above it
    const onTerminal = terminal.pretty ? { childLine: terminal.childLine, onStep: (p: object) => terminal.progress('step', p) } : {};
    summary = await runCluster(cfg, log, { resume: resumeRequested(args, cfg, log), stopRequested: () => stop, ...onTerminal });
  } finally {
    terminal.close();   // the bar's last state stays; the summary goes under it
  }
  process.stdout.write(cfg.runtime.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
  // a run stopped before its last step is not done: a Job (--interrupted-exit-code) reruns it
  return summary.interrupted ? cfg.run.interruptedExitCode : 0;
}

/**
 * --resume: continue the run (its checkpoint must exist). --resume=auto: continue it when it has a
 * valid checkpoint, else start it; so one command line serves a Kubernetes Job's first start and
 * every restart after a failure.
 */
function resumeRequested(args: string[], cfg: Config, log: Logger): boolean {
  const value = flagValue(args, 'resume');
  if (value === undefined) return false;
  if (value === 'true') return true;
  if (value !== 'auto') throw new ConfigError('resume', `'${value}' is not a --resume mode: give --resume or --resume=auto`);
  if (!cfg.run.dir) throw new ConfigError('run.dir', '--resume=auto needs --run-dir DIR: the run that a restart continues');
  const found = newestValidCheckpoint(resolveRunDir(cfg));
  log.info({ runDir: resolveRunDir(cfg), checkpoint: found?.dir ?? null }, found ? 'resume=auto: continuing from the newest checkpoint' : 'resume=auto: no checkpoint yet, starting the run');
  return found !== undefined;
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
