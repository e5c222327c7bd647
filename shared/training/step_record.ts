/**
 * One step's figures in the two forms they travel in: StepTelemetry on NATS, WorkerMetrics in the
 * gRPC heartbeat. Both carry the same numbers, so the coordinator aggregates either, and without a
 * NATS server the heartbeats alone keep every view (progress, /metrics, timeline, top) working.
 */
import type { WorkerMetrics, WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import { TELEMETRY_VERSION, type StepTelemetry } from '../runtime/telemetry/payloads.js';

/** What a worker measured in one step (shared/training/trainer.ts StepStats plus the ring's figures). */
export interface StepMeasurement {
  runId: string;
  rank: number;
  workerId: string;
  step: number;
  startedAtMs: number;
  dataMs: number;
  /** Forward + backward including dataMs (StepStats.computeMs). */
  computeMs: number;
  /** The whole reduce call (StepStats.reduceMs); waitMs is part of it. */
  reduceMs: number;
  waitMs: number;
  optimizerMs: number;
  samples: number;
  tokens: number;
  loss: number;
  gradNorm: number;
  skipped: boolean;
  bytesSent: number;
  lossScale: number;
  sparsity: number | null;
  rssBytes: number;
  tensorBytes: number;
}

export function stepTelemetry(m: StepMeasurement): StepTelemetry {
  const stepMs = m.computeMs + m.reduceMs + m.optimizerMs;
  const waiting = Math.min(m.waitMs, m.reduceMs);
  return {
    v: TELEMETRY_VERSION, type: 'step', runId: m.runId, rank: m.rank, workerId: m.workerId, step: m.step, startedAtMs: m.startedAtMs, stepMs,
    phasesMs: { data: m.dataMs, forwardBackward: Math.max(0, m.computeMs - m.dataMs), waiting, allReduce: m.reduceMs - waiting, optimizer: m.optimizerMs },
    samplesPerSec: stepMs > 0 ? (m.samples * 1000) / stepMs : 0, tokensPerSec: stepMs > 0 ? (m.tokens * 1000) / stepMs : 0,
    samples: m.samples, tokens: m.tokens, loss: m.loss, gradNorm: m.gradNorm, skipped: m.skipped, bytesSent: m.bytesSent,
    lossScale: m.lossScale, sparsity: m.sparsity, rssBytes: m.rssBytes, tensorBytes: m.tensorBytes,
  };
}

/** The heartbeat's WorkerMetrics for a step (compute_ms keeps its meaning: everything but the all-reduce). */
export function workerMetrics(t: StepTelemetry): WorkerMetrics {
  const p = t.phasesMs;
  return {
    samplesPerSec: t.samplesPerSec, tokensPerSec: t.tokensPerSec, stepMs: t.stepMs, computeMs: p.data + p.forwardBackward + p.optimizer,
    allReduceMs: p.allReduce, waitingMs: p.waiting, loss: t.loss, gradNorm: t.gradNorm, skippedSteps: t.skipped ? 1 : 0,
    rssBytes: t.rssBytes, tensorBytes: t.tensorBytes, dataMs: p.data, forwardBackwardMs: p.forwardBackward, optimizerMs: p.optimizer,
    startedAtMs: t.startedAtMs, samples: t.samples, tokens: t.tokens, bytesSent: t.bytesSent, sparsity: t.sparsity ?? -1,
  };
}

/** A heartbeat's metrics back as StepTelemetry (what the coordinator aggregates without NATS). */
export function telemetryFromHeartbeat(
  h: { runId: string; rank: number; workerId: string; step: number; lossScale: number }, x: WorkerMetrics__Output,
): StepTelemetry {
  return {
    v: TELEMETRY_VERSION, type: 'step', runId: h.runId, rank: h.rank, workerId: h.workerId, step: h.step, startedAtMs: x.startedAtMs, stepMs: x.stepMs,
    phasesMs: { data: x.dataMs, forwardBackward: x.forwardBackwardMs, waiting: x.waitingMs, allReduce: x.allReduceMs, optimizer: x.optimizerMs },
    samplesPerSec: x.samplesPerSec, tokensPerSec: x.tokensPerSec, samples: x.samples, tokens: x.tokens, loss: x.loss, gradNorm: x.gradNorm,
    skipped: x.skippedSteps > 0, bytesSent: x.bytesSent, lossScale: h.lossScale, sparsity: x.sparsity < 0 ? null : x.sparsity,
    rssBytes: x.rssBytes, tensorBytes: x.tensorBytes,
  };
}
