/** `coordinator bench <what>`: benchmarks that print figures (never pass/fail). */
import { describeConfig, flagValue, hasFlag, loadConfig, positionals, withoutFlags, type Config } from '../../shared/runtime/config.js';
import { openConsole, type LogConsole, type Logger } from '../../shared/runtime/log.js';
import type { LogFormat } from '../../shared/runtime/config.js';
import { initBackend } from '../../shared/runtime/backend.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { benchModel } from '../bench/model.js';
import { benchPrepare } from '../bench/prepare.js';
import { benchAllReduceCommand } from '../bench/allreduce_cli.js';
import { benchTechniques, formatTechniques, TECHNIQUES } from '../bench/techniques.js';
import { benchTelemetry, formatTelemetryBench } from '../bench/telemetry.js';
import { benchQuality, formatQuality, QUALITY_VARIANTS } from '../bench/quality.js';
import { benchChaos, STEPS_PER_FAULT } from '../bench/chaos.js';
import { benchOverlap, formatOverlap } from '../bench/overlap.js';
import { adaptedModelOptions } from '../../shared/training/setup.js';
import { formatAdapter } from '../../shared/runtime/webgpu.js';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import path from 'node:path';

const TIMED_STEPS = 5;
const DEFAULT_BENCH_WORKERS = 4;
/** Step budget of each technique in `bench techniques` unless --steps is given. */
const TECHNIQUES_STEPS = 100;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}
/** Target length of the bundled sample's naive docids: 3 digits + </s>. */
const SAMPLE_TARGET_TOKENS = 4;

/** A benchmark's logs: readable with a progress bar on a terminal, JSON lines elsewhere (runtime.logFormat). */
async function withConsole<T>(cfg: Config, fn: (log: Logger, terminal: LogConsole) => Promise<T>): Promise<T> {
  const terminal = openConsole({ level: cfg.runtime.logLevel, format: cfg.runtime.logFormat });
  try {
    return await fn(terminal.log, terminal);
  } finally {
    terminal.close();   // the bar's last state stays; the figures go under it
  }
}

/** Each benchmark's command: its own flags read here, the rest are run settings. */
const BENCHMARKS: Record<string, (args: string[], what: string) => Promise<number>> = {
  allreduce: benchAllReduceCli, telemetry: benchTelemetryCli, techniques: benchTechniquesCli, quality: benchQualityCli, prepare: benchPrepareCli, model: benchModelCli, chaos: benchChaosCli,
  overlap: benchOverlapCli,
};

export async function run(args: string[]): Promise<number> {
  const [what] = positionals(args);
  if (hasFlag(args, 'help') || !what) {
    process.stdout.write(`usage: coordinator bench chaos [--workers 4] [--kills 20] [--seed S] [--steps N] [--json] | coordinator bench overlap [--rounds 2] [--bucket-bytes B] [run settings: --preset, --steps, --batch-size...] [--json] | coordinator bench quality [--minutes 3] [--eval-every-seconds 30] [--variants 0,1,...] [--json] | coordinator bench techniques [--steps N] [--workers N] [--only full,full+prune,lora,qlora,full+fp16-wire] [--json] | coordinator bench telemetry [--pairs 3] [--steps 100] [--workers 2] [--batch-size 8] [--json] | coordinator bench allreduce [--workers N] [--sizes 1,4,16,64] [--wires fp32,fp16,bf16] [--transports tcp,grpc] [--iterations K] [--hosts local|netns --link-rate 1gbit] [--json] | coordinator bench prepare [--passages N] [--docids naive|atomic|semantic] [--json] | coordinator bench model [--preset P] [--backend B] [--batch-size N] [--mode full|lora|qlora] [--json]\n\n${describeConfig()}\n`);
    return what ? 0 : 2;
  }
  const bench = Object.hasOwn(BENCHMARKS, what) ? BENCHMARKS[what] : undefined;
  if (!bench) throw new ConfigError('bench', `unknown benchmark '${what}'; available: model, prepare, allreduce, techniques, telemetry, quality, chaos, overlap`);
  return bench(args, what);
}

async function benchAllReduceCli(args: string[]): Promise<number> {
  // its own flags (--sizes, --wires, --iterations...) are not run settings: only --workers and --json are read here
  const workers = Number(flagValue(args, 'workers') ?? DEFAULT_BENCH_WORKERS);
  if (!Number.isInteger(workers) || workers < 2) throw new ConfigError('workers', `bench allreduce needs --workers >= 2, got ${flagValue(args, 'workers')}`);
  const terminal = openConsole({ format: logFormatFlag(args) });
  return closing(terminal, () => benchAllReduceCommand(args, workers, hasFlag(args, 'json'), terminal.progress));
}

async function benchTelemetryCli(args: string[]): Promise<number> {
  // telemetry off vs on, alternating pairs of whole runs; its own flags: --pairs, --steps, --workers, --batch-size
  const num = (flag: string, d: number): number => {
    const v = Number(flagValue(args, flag) ?? d);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(flag, `bench telemetry needs --${flag} as an integer > 0, got ${flagValue(args, flag)}`);
    return v;
  };
  const terminal = openConsole({ format: logFormatFlag(args) });
  const b = await closing(terminal, () => benchTelemetry({ pairs: num('pairs', 3), steps: num('steps', 100), workers: num('workers', 2), batchSize: num('batch-size', 8), progress: terminal.progress }));
  process.stdout.write(hasFlag(args, 'json') ? JSON.stringify(b) + '\n' : formatTelemetryBench(b));
  return 0;
}

async function benchOverlapCli(args: string[], what: string): Promise<number> {
  // its own flag: --rounds; --bucket-bytes is the bucketed runs' size (the runs without buckets use 0);
  // the rest are the shared run settings, by default the retrieval recipe's batch for 30 steps
  const rounds = Number(flagValue(args, 'rounds') ?? 2);
  if (!Number.isInteger(rounds) || rounds <= 0) throw new ConfigError('rounds', `bench overlap needs --rounds as an integer > 0, got ${flagValue(args, 'rounds')}`);
  const rest = withoutFlags(args.filter((a) => a !== what), ['rounds', 'workers']);
  const defaults = [...(flagValue(rest, 'steps') ? [] : ['--steps', '30']), '--checkpoint-every', '0', '--no-nats', '--max-queries', '2'];
  const cfg = loadConfig({ args: [...defaults, ...rest] });
  if (cfg.cluster.bucketBytes === 0) throw new ConfigError('cluster.bucketBytes', 'bench overlap compares --bucket-bytes 0 with a size > 0: give that size, or leave the default');
  const b = await withConsole(cfg, (log, terminal) => benchOverlap([...defaults, ...rest], { rounds, bucketBytes: cfg.cluster.bucketBytes, log, ...(terminal.pretty ? { terminal } : {}) }));
  process.stdout.write(cfg.runtime.json ? JSON.stringify(b) + '\n' : formatOverlap(b));
  return 0;
}

async function benchTechniquesCli(args: string[], what: string): Promise<number> {
  // the shared settings of every technique: default budget 100 steps on 2 workers, unless given
  // --only a,b: those techniques only (its own flag, not a run setting)
  const only = flagValue(args, 'only')?.split(',');
  const unknown = only?.filter((t) => !(t in TECHNIQUES));
  if (unknown?.length) throw new ConfigError('only', `unknown technique(s) ${unknown.join(', ')}; available: ${Object.keys(TECHNIQUES).join(', ')}`);
  const rest = withoutFlags(args.filter((a) => a !== what), ['only']);
  const defaults = [...(flagValue(rest, 'steps') ? [] : ['--steps', String(TECHNIQUES_STEPS)]), ...(flagValue(rest, 'workers') ? [] : ['--workers', '2'])];
  const cfg = loadConfig({ args: [...defaults, ...rest] });
  const rows = await withConsole(cfg, (log, terminal) => benchTechniques([...defaults, ...rest], log, only, terminal.pretty ? terminal : undefined));
  process.stdout.write(cfg.runtime.json ? JSON.stringify(rows) + '\n' : formatTechniques(rows));
  return 0;
}

/** --log-format of a benchmark whose own flags are not run settings (allreduce, telemetry): auto unless given. */
function logFormatFlag(args: string[]): LogFormat {
  const f = flagValue(args, 'log-format') ?? 'auto';
  if (f !== 'auto' && f !== 'json' && f !== 'pretty') throw new ConfigError('log-format', `must be one of auto, json, pretty; value was "${f}"`);
  return f;
}

/** Runs fn, then leaves the console's bar on the screen (before the figures go to stdout). */
async function closing<T>(terminal: LogConsole, fn: () => Promise<T>): Promise<T> {
  try { return await fn(); } finally { terminal.close(); }
}

async function benchQualityCli(args: string[], what: string): Promise<number> {
  // its own flags: --minutes (training time per variant), --eval-every-seconds, --variants i,j (indexes into the list); the rest are run settings
  const own = ['minutes', 'eval-every-seconds', 'variants', 'out'];
  const rest = args.filter((a, i) => a !== what && !own.some((f) => a === `--${f}` || a.startsWith(`--${f}=`) || args[i - 1] === `--${f}`));
  const num = (flag: string, d: number): number => {
    const v = Number(flagValue(args, flag) ?? d);
    if (!(v > 0)) throw new ConfigError(flag, `bench quality needs --${flag} as a number > 0, got ${flagValue(args, flag)}`);
    return v;
  };
  const picked = flagValue(args, 'variants');
  const variants = picked === undefined ? QUALITY_VARIANTS : picked.split(',').map((i) => {
    const v = QUALITY_VARIANTS[Number(i)];
    if (!v) throw new ConfigError('variants', `no variant ${i}: 0..${QUALITY_VARIANTS.length - 1} are ${QUALITY_VARIANTS.map((x) => `${x.scheme}/${x.data}`).join(', ')}`);
    return v;
  });
  const cfg = loadConfig({ args: rest });
  await initBackend(cfg.runtime.backend, { webgpuApi: cfg.runtime.webgpuApi });
  const outDir = flagValue(args, 'out') ?? path.join(REPO_ROOT, 'runs', `bench-quality-${Date.now()}`);
  const rows = await withConsole(cfg, (log, terminal) => benchQuality({ minutes: num('minutes', 3), evalEverySeconds: num('eval-every-seconds', 30), args: rest, variants, outDir, log, progress: terminal.progress }));
  process.stdout.write(cfg.runtime.json ? JSON.stringify(rows) + '\n' : formatQuality(rows) + `curves: ${path.join(outDir, 'curves.svg')}\n`);
  return 0;
}

async function benchPrepareCli(args: string[], what: string): Promise<number> {
  // --passages N: the scale benchmark (N and 4N synthetic passages); its own flag, not a run setting
  const passages = flagValue(args, 'passages');
  const rest = withoutFlags(args.filter((a) => a !== what), ['passages']);
  const cfg = loadConfig({ args: rest });
  if (passages !== undefined && !/^\d+$/.test(passages)) throw new ConfigError('passages', `bench prepare needs --passages as an integer, got ${passages}`);
  return withConsole(cfg, (log) => benchPrepare(cfg, log, passages === undefined ? undefined : Number(passages)));
}

async function benchModelCli(args: string[], what: string): Promise<number> {
  const cfg = loadConfig({ args: args.filter((a) => a !== what) });
  const backend = await initBackend(cfg.runtime.backend, { webgpuApi: cfg.runtime.webgpuApi });
  const r = await withConsole(cfg, (log, terminal) => {
    log.info({ backend: backend.name, device: backend.device, preset: cfg.model.preset }, 'bench model');
    return benchModel({
      preset: cfg.model.preset, backend: backend.name, ...(backend.device ? { device: backend.device } : {}), batchSize: cfg.train.batchSize, inputTokens: cfg.data.maxInputTokens,
      targetTokens: SAMPLE_TARGET_TOKENS, steps: TIMED_STEPS, seed: cfg.runtime.seed,
      mode: cfg.train.mode, adapters: adaptedModelOptions(cfg), progress: terminal.progress,
    });
  });
  if (cfg.runtime.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    process.stdout.write(
      `${r.preset} on ${r.backend}${r.device ? ` [${formatAdapter(r.device)}]` : ''}: batch ${r.batch.B}x${r.batch.S} -> ${r.batch.T}, mode ${r.mode}\n` +
      `  memory         ${r.memory.trainable_parameters} trainable parameters, optimizer state ${mib(r.memory.optimizer_state_bytes)}, weights ${mib(r.memory.weight_bytes)}\n` +
      `  training step  ${r.step_ms.toFixed(1)} ms  ${r.samples_per_s.toFixed(1)} samples/s  ${r.tokens_per_s.toFixed(0)} tokens/s  ${r.step_gflops.toFixed(2)} GFLOP/s (${r.step_gflop.toFixed(2)} GFLOP/step)\n` +
      `  2-D matMul     ${r.matmul.m}x${r.matmul.k} @ ${r.matmul.k}x${r.matmul.n}: ${r.matmul.gflops.toFixed(2)} GFLOP/s\n` +
      `  ratio          ${r.ratio.toFixed(3)} (goal >= 0.5)\n`);
  }
  return 0;
}

/** `bench chaos`: its own flags only (--workers, --kills, --seed, --steps, --batch-size); the runs are t5-tiny on the bundled sample. */
async function benchChaosCli(args: string[]): Promise<number> {
  const int = (name: string, def: number, min: number): number => {
    const v = Number(flagValue(args, name) ?? def);
    if (!Number.isInteger(v) || v < min) throw new ConfigError(name, `bench chaos needs --${name} >= ${min}, got ${flagValue(args, name)}`);
    return v;
  };
  const workers = int('workers', DEFAULT_BENCH_WORKERS, 2), kills = int('kills', 20, 0), seed = int('seed', 1, 0);
  // a global batch every ring size from 1 to --workers divides: a re-formed ring never releases a survivor
  const batchSize = int('batch-size', Array.from({ length: workers }, (_, i) => i + 1).reduce((l, n) => (l * n) / gcd(l, n), 1), 1);
  const steps = int('steps', STEPS_PER_FAULT * (kills + 2) + 10, 8);
  const json = hasFlag(args, 'json');
  const r = await benchChaos({ workers, kills, seed, steps, batchSize, onFault: (what) => { if (!json) process.stderr.write(`bench chaos: ${what}\n`); } });
  process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${Object.entries(r).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : v}`).join('\n')}\n`);
  return 0;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
