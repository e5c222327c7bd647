/**
 * The per-worker snapshot that `coordinator top` and the dashboard show: latest step figures and
 * run averages per rank, as plain JSON (versioned like the NATS payloads).
 */
import { TELEMETRY_VERSION, type StepTelemetry } from '../../shared/runtime/telemetry/payloads.js';
import type { EvaluationPoint, TelemetryAggregator } from './aggregator.js';

export interface WorkerRow {
  rank: number;
  workerId: string;
  step: number;
  /** Run averages (over the steps recorded). */
  samplesPerSec: number;
  tokensPerSec: number;
  stepMs: number;
  /** Shares of step time, run average. */
  shares: { data: number; forwardBackward: number; waiting: number; allReduce: number; optimizer: number };
  loss: number;
  lossScale: number;
  sparsity: number | null;
  bytesSent: number;
  rssBytes: number;
  /** Recent steps (oldest first) for charts: step, ms per phase, loss, samples/s. */
  recent: Array<Pick<StepTelemetry, 'step' | 'stepMs' | 'phasesMs' | 'loss' | 'samplesPerSec'>>;
}

export interface WorkersSnapshot {
  v: typeof TELEMETRY_VERSION;
  runId: string;
  telemetry: string;
  worldSize: number;
  atMs: number;
  workers: WorkerRow[];
  /** --eval-every's figures so far (empty without it). */
  evaluations: EvaluationPoint[];
}

/** Recent steps per worker in a snapshot. */
export const SNAPSHOT_RECENT_STEPS = 200;

/** The snapshot of what `a` has recorded; `meta` says which run and where the figures came from. */
export function workersSnapshot(a: TelemetryAggregator, meta: { telemetry: string; worldSize: number }): WorkersSnapshot {
  const workers = a.ranks().map((rank): WorkerRow => {
    const last = a.latest(rank) as StepTelemetry;   // ranks() lists only ranks with a recorded step
    const tot = a.totals(rank);
    const ms = tot?.stepMs ?? 0, p = tot?.phasesMs;
    const share = (x: number | undefined): number => (ms > 0 && x !== undefined ? x / ms : 0);
    return {
      rank, workerId: last.workerId, step: last.step,
      samplesPerSec: ms > 0 ? ((tot?.samples ?? 0) * 1000) / ms : 0, tokensPerSec: ms > 0 ? ((tot?.tokens ?? 0) * 1000) / ms : 0,
      stepMs: tot && tot.steps > 0 ? ms / tot.steps : 0,
      shares: { data: share(p?.data), forwardBackward: share(p?.forwardBackward), waiting: share(p?.waiting), allReduce: share(p?.allReduce), optimizer: share(p?.optimizer) },
      loss: last.loss, lossScale: last.lossScale, sparsity: last.sparsity, bytesSent: tot?.bytesSent ?? 0, rssBytes: last.rssBytes,
      recent: a.history(rank).slice(-SNAPSHOT_RECENT_STEPS).map((s) => ({ step: s.step, stepMs: s.stepMs, phasesMs: s.phasesMs, loss: s.loss, samplesPerSec: s.samplesPerSec })),
    };
  });
  return { v: TELEMETRY_VERSION, runId: a.runId, telemetry: meta.telemetry, worldSize: meta.worldSize, atMs: Date.now(), workers, evaluations: [...a.evaluations] };
}

/** Narrows /api/workers JSON (from another process) to a WorkersSnapshot; throws naming the field. */
export function parseWorkersSnapshot(x: unknown): WorkersSnapshot {
  const r = x as Partial<WorkersSnapshot> | null;
  if (!r || typeof r !== 'object') throw new Error('workers snapshot: not a JSON object');
  if (r.v !== TELEMETRY_VERSION) throw new Error(`workers snapshot: version ${JSON.stringify(r.v)}, this reader speaks ${TELEMETRY_VERSION}`);
  if (typeof r.runId !== 'string' || typeof r.worldSize !== 'number' || !Array.isArray(r.workers)) throw new Error('workers snapshot: runId, worldSize or workers missing');
  r.workers.forEach((w: unknown, i) => {
    const row = w as Record<string, unknown>;
    for (const k of ['rank', 'step', 'samplesPerSec', 'tokensPerSec', 'stepMs', 'lossScale', 'bytesSent', 'rssBytes'])
      if (typeof row[k] !== 'number') throw new Error(`workers snapshot: workers[${i}].${k} is ${JSON.stringify(row[k])}, expected a number`);
    if (!row['shares'] || typeof row['shares'] !== 'object') throw new Error(`workers snapshot: workers[${i}].shares missing`);
  });
  return r as WorkersSnapshot;
}
