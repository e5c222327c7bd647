/**
 * What telemetry carries: per-step worker metrics and run events, as typed, versioned JSON. Subjects
 * follow `dsi.<runId>.<role>.<rank>.<event>` (STYLE.md); a reader checks `v` and narrows with the
 * parse functions here, never with a cast.
 */

import { PayloadError } from '../errors.js';

/** Payload schema version; a reader skips (and counts) payloads of another version. */
export const TELEMETRY_VERSION = 1;
/** The JetStream stream holding every run's events (replayable after the run). */
export const EVENTS_STREAM = 'DSI_EVENTS';

/** Step time of one worker, split into the phases of a step, in milliseconds. */
export interface StepPhasesMs {
  /** Reading and padding examples (inside the micro-batch loop, summed). */
  data: number;
  /** Forward + backward over the micro-batches (data excluded). */
  forwardBackward: number;
  /** All-reduce time spent waiting for the left neighbour's chunks (summed over the ring's waits). */
  waiting: number;
  /** All-reduce time not spent waiting: encode, send, reduce, decode. */
  allReduce: number;
  /** Clip + AdamW. */
  optimizer: number;
}

/** One worker's step, published on `dsi.<runId>.worker.<rank>.step`. */
export interface StepTelemetry {
  v: typeof TELEMETRY_VERSION;
  type: 'step';
  runId: string;
  rank: number;
  workerId: string;
  /** Steps done after this one (1-based, like StepStats.step). */
  step: number;
  /** Wall clock when the step began, Unix milliseconds (sub-millisecond precision). */
  startedAtMs: number;
  stepMs: number;
  phasesMs: StepPhasesMs;
  samplesPerSec: number;
  tokensPerSec: number;
  /** Examples and tokens (input + target) this worker trained on in the step. */
  samples: number;
  tokens: number;
  loss: number;
  gradNorm: number;
  /** The update was skipped on every rank (overflow on the wire). */
  skipped: boolean;
  /** All-reduce bytes this worker put on the wire in the step. */
  bytesSent: number;
  lossScale: number;
  /** Share of zero prunable weights once pruning masks apply; null before (or without) pruning. */
  sparsity: number | null;
  rssBytes: number;
  tensorBytes: number;
  /** Connections the worker refused since it started (TLS handshakes; ring secrets, malformed, floods). */
  refused?: { tlsHandshakes: number; ringConnections: number };
}

/** Run events, published to JetStream on `dsi.<runId>.events.<type>`, in the order they happened. */
export type RunEventBody =
  | { type: 'run_started'; worldSize: number; startStep: number; steps: number; natsUrl: string }
  | { type: 'worker_joined'; workerId: string; address: string; backend: string }
  | { type: 'ring_formed'; epoch: number; ring: Array<{ rank: number; workerId: string; address: string }> }
  /** step and worldSize when it was lost mid-run: the step it was lost in, workers left (the ring re-forms unless below cluster.minWorkers). */
  | { type: 'worker_left'; workerId: string; rank: number; reason: string; step?: number; worldSize?: number }
  | { type: 'checkpoint_written'; step: number; dir: string }
  | { type: 'masks_broadcast'; step: number; version: number; target: number; reached: number }
  /** --eval-every: retrieval on `queries` held-out queries after `step`, `seconds` of training in. */
  | { type: 'evaluated'; step: number; seconds: number; queries: number; hitsAt1: number; hitsAt10: number; mrrAt10: number }
  | { type: 'run_finished'; steps: number; interrupted: boolean; lossLast: number }
  | { type: 'run_failed'; step: number; error: string };

export type RunEventType = RunEventBody['type'];
export const RUN_EVENT_TYPES: readonly RunEventType[] = [
  'run_started', 'worker_joined', 'ring_formed', 'worker_left', 'checkpoint_written', 'masks_broadcast', 'evaluated', 'run_finished', 'run_failed',
];

/** A run event as stored: the body plus version, run, sequence number (1-based, per run) and time. */
export type RunEvent = RunEventBody & { v: typeof TELEMETRY_VERSION; runId: string; seq: number; atMs: number };

export function stepSubject(runId: string, rank: number | '*'): string {
  return `dsi.${runId}.worker.${rank}.step`;
}

export function eventSubject(runId: string, type: RunEventType | '*'): string {
  return `dsi.${runId}.events.${type}`;
}

/** Subjects of the events stream: every run's events. */
export const EVENTS_SUBJECTS = 'dsi.*.events.*';

type Rec = Record<string, unknown>;

function record(x: unknown, what: string): Rec {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new PayloadError(`${what}: not a JSON object`);
  return x as Rec;
}

function num(r: Rec, k: string, what: string): number {
  const v = r[k];
  // NaN and Infinity travel as null in JSON (a skipped step's loss): read them back as NaN
  if (v === null) return NaN;
  if (typeof v !== 'number') throw new PayloadError(`${what}: field '${k}' is ${JSON.stringify(v)}, expected a number`);
  return v;
}

function str(r: Rec, k: string, what: string): string {
  const v = r[k];
  if (typeof v !== 'string') throw new PayloadError(`${what}: field '${k}' is ${JSON.stringify(v)}, expected a string`);
  return v;
}

function version(r: Rec, what: string): typeof TELEMETRY_VERSION {
  if (r['v'] !== TELEMETRY_VERSION) throw new PayloadError(`${what}: version ${JSON.stringify(r['v'])}, this reader speaks ${TELEMETRY_VERSION}`);
  return TELEMETRY_VERSION;
}

/** Narrows a decoded JSON value to StepTelemetry; throws PayloadError naming the field. */
export function parseStepTelemetry(x: unknown): StepTelemetry {
  const what = 'step telemetry';
  const r = record(x, what);
  if (r['type'] !== 'step') throw new PayloadError(`${what}: type ${JSON.stringify(r['type'])}, expected 'step'`);
  const p = record(r['phasesMs'], `${what} phasesMs`);
  const sparsity = r['sparsity'] === null ? null : num(r, 'sparsity', what);
  if (typeof r['skipped'] !== 'boolean') throw new PayloadError(`${what}: field 'skipped' is not a boolean`);
  return {
    v: version(r, what), type: 'step', runId: str(r, 'runId', what), rank: num(r, 'rank', what), workerId: str(r, 'workerId', what),
    step: num(r, 'step', what), startedAtMs: num(r, 'startedAtMs', what), stepMs: num(r, 'stepMs', what),
    phasesMs: {
      data: num(p, 'data', what), forwardBackward: num(p, 'forwardBackward', what), waiting: num(p, 'waiting', what),
      allReduce: num(p, 'allReduce', what), optimizer: num(p, 'optimizer', what),
    },
    samplesPerSec: num(r, 'samplesPerSec', what), tokensPerSec: num(r, 'tokensPerSec', what), samples: num(r, 'samples', what),
    tokens: num(r, 'tokens', what), loss: num(r, 'loss', what), gradNorm: num(r, 'gradNorm', what), skipped: r['skipped'],
    bytesSent: num(r, 'bytesSent', what), lossScale: num(r, 'lossScale', what), sparsity,
    rssBytes: num(r, 'rssBytes', what), tensorBytes: num(r, 'tensorBytes', what),
    ...(r['refused'] === undefined ? {} : { refused: refusedOf(record(r['refused'], `${what} refused`), what) }),
  };
}

function refusedOf(r: Rec, what: string): { tlsHandshakes: number; ringConnections: number } {
  return { tlsHandshakes: num(r, 'tlsHandshakes', what), ringConnections: num(r, 'ringConnections', what) };
}

/** Narrows a decoded JSON value to a RunEvent (common fields checked; the body is trusted by type). */
export function parseRunEvent(x: unknown): RunEvent {
  const what = 'run event';
  const r = record(x, what);
  const type = r['type'];
  if (typeof type !== 'string' || !(RUN_EVENT_TYPES as readonly string[]).includes(type))
    throw new PayloadError(`${what}: type ${JSON.stringify(type)} is not one of ${RUN_EVENT_TYPES.join(', ')}`);
  version(r, what);
  str(r, 'runId', what);
  num(r, 'seq', what);
  num(r, 'atMs', what);
  return r as unknown as RunEvent;
}

/** Wall clock now in Unix milliseconds with performance.now()'s sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
