/**
 * `coordinator start [--workers N] [--resume]`: the coordinator and N local worker processes
 * train on the configured data (default: the bundled sample), evaluate and summarise.
 * SIGINT/SIGTERM: finish the current step, checkpoint, stop the workers, exit 0 (or --interrupted-exit-code).
 */
import path from 'node:path';
import { describeConfig, flagValue, hasFlag, loadConfig, peekConfig, type Config, type ConfigOverride } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { openConsole } from '../../shared/runtime/log.js';
import { formatAdapter } from '../../shared/runtime/webgpu.js';
import { resumedConfig } from '../../shared/training/resume_config.js';
import { runCluster, type ClusterSummary } from '../cluster/run_cluster.js';
import { newestValidCheckpoint } from '../cluster/checkpoints.js';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: coordinator start [--workers N] [--steps N] [--data DIR] [--run-dir DIR [--resume | --resume=auto] [--override KEY]...] [--json] ...\n\n${describeConfig()}\n`);
    return 0;
  }
  const start = startConfig(args);
  const { cfg } = start;
  const terminal = openConsole({ level: cfg.runtime.logLevel, format: cfg.runtime.logFormat });
  const { log } = terminal;
  for (const note of start.notes) log.info(note.fields, note.msg);
  for (const c of start.changes) log.warn({ ...c }, 'resume: setting changed against the checkpoint (--override)');
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
    summary = await runCluster(cfg, log, { resume: start.resume, stopRequested: () => stop, ...onTerminal });
  } finally {
    terminal.close();   // the bar's last state stays; the summary goes under it
  }
  process.stdout.write(cfg.runtime.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
  // a run stopped before its last step is not done: a Job (--interrupted-exit-code) reruns it
  return summary.interrupted ? cfg.run.interruptedExitCode : 0;
}

interface StartConfig {
  cfg: Readonly<Config>;
  resume: boolean;
  changes: ConfigOverride[];
  /** Log lines for once the logger exists (it takes its level from the config). */
  notes: Array<{ msg: string; fields: Record<string, unknown> }>;
}

/**
 * The run's configuration. --resume: continue the run (its checkpoint must exist), with the
 * checkpoint's trajectory settings (shared/training/resume_config.ts). --resume=auto: continue it
 * when it has a valid checkpoint, else start it; so one command line serves a Kubernetes Job's
 * first start and every restart after a failure.
 */
function startConfig(args: string[]): StartConfig {
  const value = flagValue(args, 'resume');
  if (value === undefined) {
    if (hasFlag(args, 'override')) throw new ConfigError('override', '--override KEY only applies with --resume: a new run takes every setting from its command line');
    return { cfg: loadConfig({ args }), resume: false, changes: [], notes: [] };
  }
  if (value !== 'true' && value !== 'auto') throw new ConfigError('resume', `'${value}' is not a --resume mode: give --resume or --resume=auto`);
  const dir = String(peekConfig('run.dir', { args }) ?? '');
  if (!dir) throw new ConfigError('run.dir', value === 'auto' ? '--resume=auto needs --run-dir DIR: the run that a restart continues' : '--resume needs --run-dir DIR of the run to continue');
  const runDir = path.resolve(dir);
  const found = newestValidCheckpoint(runDir);
  const notes: StartConfig['notes'] = [];   // checkpoints skipped as invalid are logged (warn) when the run resolves its inputs
  if (value === 'auto') notes.push({ msg: found ? 'resume=auto: continuing from the newest checkpoint' : 'resume=auto: no checkpoint yet, starting the run', fields: { runDir, checkpoint: found?.dir ?? null } });
  if (!found) {
    if (value === 'true') throw new ConfigError('run.dir', `--resume: no valid checkpoint under ${path.join(runDir, 'checkpoints')}`);
    return { cfg: loadConfig({ args }), resume: false, changes: [], notes };
  }
  const st = found.state;   // verified by newestValidCheckpoint: its files are not hashed again
  const { cfg, changes } = resumedConfig({ runConfig: st.run_config, dataDir: st.data_dir, step: st.step, dir: found.dir }, { args });
  return { cfg, resume: true, changes, notes };
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
