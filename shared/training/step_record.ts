/**
 * One worker's step as one record: the trainer's StepStats (shared/training/trainer.ts, the ring's
 * figures included) becomes a StepTelemetry (runtime/telemetry/payloads.ts), the record every view
 * reads. It travels in two forms: as itself on NATS, and as WorkerMetrics in the gRPC heartbeat;
 * both carry the same numbers, so the coordinator aggregates either, and without a NATS server the
 * heartbeats alone keep every view (progress, /metrics, timeline, top) working.
 */
import type { WorkerMetrics, WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import { TELEMETRY_VERSION, type StepTelemetry } from '../runtime/telemetry/payloads.js';
import type { StepStats } from './trainer.js';

/** Who ran the step, and the worker's state after it (beyond what the trainer measures). */
export interface StepContext {
  runId: string;
  rank: number;
  workerId: string;
  lossScale: number;
  /** Share of zero prunable weights once pruning masks apply; null before. */
  sparsity: number | null;
  rssBytes: number;
  /** Connections the worker refused since it started; undefined: not a worker with a server (benchmarks). */
  refused?: { tlsHandshakes: number; ringConnections: number };
}

export function stepTelemetry(c: StepContext, s: StepStats): StepTelemetry {
  const stepMs = s.computeMs + s.reduceMs + s.optimizerMs;
  const waiting = Math.min(s.waitMs, s.reduceMs);
  const samples = s.localSamples;
  return {
    v: TELEMETRY_VERSION, type: 'step', runId: c.runId, rank: c.rank, workerId: c.workerId, step: s.step, startedAtMs: s.startedAtMs, stepMs,
    phasesMs: { data: s.dataMs, forwardBackward: Math.max(0, s.computeMs - s.dataMs), waiting, allReduce: s.reduceMs - waiting, optimizer: s.optimizerMs },
    samplesPerSec: stepMs > 0 ? (samples * 1000) / stepMs : 0, tokensPerSec: stepMs > 0 ? (s.tokens * 1000) / stepMs : 0,
    samples, tokens: s.tokens, loss: s.loss, gradNorm: s.gradNorm, skipped: s.skipped, bytesSent: s.bytesSent,
    lossScale: c.lossScale, sparsity: c.sparsity, rssBytes: c.rssBytes, tensorBytes: s.peakTensorBytes, ...(c.refused ? { refused: { ...c.refused } } : {}),
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
    refusedTlsHandshakes: t.refused?.tlsHandshakes ?? 0, refusedRingConnections: t.refused?.ringConnections ?? 0,
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
    rssBytes: x.rssBytes, tensorBytes: x.tensorBytes, refused: { tlsHandshakes: x.refusedTlsHandshakes, ringConnections: x.refusedRingConnections },
  };
}
