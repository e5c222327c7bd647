/**
 * A resumed run takes the checkpoint's own configuration. Settings that change the trajectory
 * (which examples, in what order, with which model, optimizer and noise) default to the
 * checkpoint's values; one that the command line, env or a config file sets to something else is
 * an error naming both values, unless `--override KEY` says so (then it is logged and recorded in
 * run.overrides with the step it changed at). Everything else (worker count, transport, timeouts,
 * telemetry, evaluation, logging) comes from the new command line as usual.
 */
import path from 'node:path';
import { flagValues, loadConfig, settingFlags, type Config, type ConfigOverride, type LoadConfigOptions } from '../runtime/config.js';
import { ConfigError } from '../runtime/errors.js';

/**
 * Settings a resume keeps from the checkpoint. Not listed, so free to change: runtime.backend (the
 * same arithmetic on every backend to float rounding), train.accumulate (re-splits the same global
 * batch, as the worker count does), train.logEvery, cluster.* but the wire format, eval.*, run.*,
 * telemetry.*, prepare.*; train.steps only where it moves the schedule (trajectoryKeys).
 */
export const TRAJECTORY_KEYS: readonly string[] = [
  'runtime.seed', 'model.preset', 'model.from', 'model.dropout',
  'data.dir', 'data.scheme', 'data.maxInputTokens', 'data.lowercase',
  'train.batchSize', 'train.learningRate', 'train.warmupSteps', 'train.decay', 'train.decaySteps', 'train.minLrRatio', 'train.weightDecay',
  'train.beta1', 'train.beta2', 'train.epsilon', 'train.gradClip', 'train.mode', 'train.mix', 'train.spanMinTokens',
  'train.spanMaxTokens', 'train.termsMin', 'train.termsMax', 'train.labelSmoothing', 'train.decoderOutput', 'train.docidInit',
  'prune.final', 'prune.initial', 'prune.beginStep', 'prune.endStep', 'prune.every', 'prune.scope',
  'lora.rank', 'lora.alpha', 'lora.dropout', 'lora.targets', 'lora.doubleQuant',
  'cluster.wire', 'cluster.lossScaleWindow',
];

/**
 * Trajectory settings a resume may change without --override, the change logged and recorded in
 * run.overrides all the same: the run's length (training a run for longer, or stopping it sooner, is
 * what a resume is most often for; with a decaying rate it moves the decay).
 */
export const RECORDED_KEYS: readonly string[] = ['train.steps'];

/**
 * Settings that decide the checkpoint's tensors: the weights come from the checkpoint, so a new value
 * could only be ignored or fail on a shape; --override is refused for these.
 */
export const FIXED_KEYS: readonly string[] = ['model.preset', 'model.from', 'train.mode', 'lora.rank', 'lora.targets', 'lora.doubleQuant'];

/** What a resume reads from the checkpoint (trainer_state.json). */
export interface CheckpointSettings {
  /** The run config stored with it (run_config). */
  runConfig: unknown;
  /** The prepared dataset it trained on, resolved (data_dir). */
  dataDir: string;
  step: number;
  /** Its folder, for the messages. */
  dir: string;
}

export interface ResumedConfig {
  cfg: Readonly<Config>;
  /** The settings --override changed at this resume (also appended to cfg.run.overrides). */
  changes: ConfigOverride[];
}

function get(o: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

function set(o: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = o;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts.at(-1) as string] = value;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const show = (v: unknown): string => (v === '' ? "'' (empty)" : JSON.stringify(v));

/**
 * The keys checked for a checkpoint trained with `ck`: TRAJECTORY_KEYS, plus train.steps where the
 * learning-rate decay or the pruning schedule's default end (3/4 of the steps) depends on it.
 */
export function trajectoryKeys(ck: unknown): string[] {
  const stepsMatter = get(ck, 'train.decay') !== 'constant' || (Number(get(ck, 'prune.final')) > 0 && get(ck, 'prune.endStep') === 0);
  return [...TRAJECTORY_KEYS, ...(stepsMatter ? ['train.steps'] : [])];
}

/** `--override` values as setting keys: the dotted key or its flag (`train.batchSize` or `batch-size`). */
export function overrideKeys(args: string[]): Set<string> {
  const flags = settingFlags();
  const byFlag = new Map([...flags].filter(([, f]) => f).map(([k, f]) => [f, k]));
  const out = new Set<string>();
  for (const v of flagValues(args, 'override')) {
    const key = flags.has(v) ? v : byFlag.get(v.replace(/^--/, ''));
    if (!key) throw new ConfigError('override', `'${v}' is not a setting: give its key (train.batchSize) or flag (batch-size)`);
    out.add(key);
  }
  return out;
}

/** The checkpoint's trajectory settings as load defaults (data.dir as the resolved folder it trained on). */
function checkpointDefaults(ck: CheckpointSettings, keys: string[]): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  for (const k of keys) {
    const v = get(ck.runConfig, k);
    if (v !== undefined) set(d, k, v);
  }
  if (get(ck.runConfig, 'data.dir')) set(d, 'data.dir', ck.dataDir);
  return d;
}

/** The value to compare: a dataset folder by its resolved path (relative to the working folder). */
function normalised(key: string, v: unknown): unknown {
  return key === 'data.dir' && typeof v === 'string' && v ? path.resolve(v) : v;
}

/** Equal settings; the bundled sample given as its prepared folder is the same dataset. */
function unchanged(ck: CheckpointSettings, key: string, from: unknown, to: unknown): boolean {
  if (key === 'data.dir' && from === '' && typeof to === 'string' && to) return path.resolve(to) === path.resolve(ck.dataDir);
  return same(normalised(key, from), normalised(key, to));
}

/**
 * The configuration of a run resumed from `ck`: its trajectory settings, unless file, env or
 * flags set them otherwise; a difference without --override is a ConfigError naming the key, its
 * flag and both values.
 */
export function resumedConfig(ck: CheckpointSettings, load: LoadConfigOptions & { args: string[] }): ResumedConfig {
  if (!ck.runConfig || typeof ck.runConfig !== 'object') throw new ConfigError('run.dir', `${ck.dir}: trainer_state.json has no run_config to resume with`);
  const keys = trajectoryKeys(ck.runConfig);
  const defaults = checkpointDefaults(ck, keys);
  const previous = (get(ck.runConfig, 'run.overrides') as ConfigOverride[] | undefined) ?? [];
  const overridden = overrideKeys(load.args);
  const flags = settingFlags();
  const cfg = loadConfig({ ...load, defaults: { ...defaults, run: { overrides: previous } } });
  const changes: ConfigOverride[] = [];
  const conflicts: string[] = [];
  for (const key of keys) {
    const from = get(defaults, key), to = get(cfg, key);
    if (from === undefined || unchanged(ck, key, from, to)) continue;
    const flag = flags.get(key) ? ` (--${flags.get(key)})` : '';
    const fixed = FIXED_KEYS.includes(key);
    if (overridden.has(key) && fixed)
      throw new ConfigError(key, `cannot be overridden on resume: the checkpoint ${ck.dir} holds the weights of ${show(from)}; start a new run from its model with --model-from ${ck.dir} instead`);
    if (overridden.has(key) || RECORDED_KEYS.includes(key)) changes.push({ key, from, to, step: ck.step });
    else conflicts.push(`${key}${flag} is ${show(from)} in the checkpoint at step ${ck.step}, ${show(to)} here${fixed ? ' (fixed by the checkpoint\'s weights)' : ''}`);
  }
  if (conflicts.length > 0) {
    const first = conflicts[0]?.split(' ')[0] ?? 'resume';
    throw new ConfigError(first, `resume would change the run's trajectory: ${conflicts.join('; ')}. Leave the setting out to keep the checkpoint's, or give --override KEY to change it from step ${ck.step} on (recorded in the run's config.json)`);
  }
  if (changes.length === 0) return { cfg, changes };
  // the override history travels with the config: config.json and every later checkpoint carry it
  return { cfg: loadConfig({ ...load, defaults: { ...defaults, run: { overrides: [...previous, ...changes] } } }), changes };
}
