/** A member of the run as the coordinator sees it, and what it keeps of one it lost. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ControlMessage } from '../../proto/gen/dsi/v1/ControlMessage.js';
import type { ControlRequest__Output } from '../../proto/gen/dsi/v1/ControlRequest.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFailure__Output } from '../../proto/gen/dsi/v1/RingFailure.js';
import type { StepProgress__Output } from '../../proto/gen/dsi/v1/StepProgress.js';
import { newSecret } from '../../shared/runtime/security.js';

export interface Member {
  workerId: string;
  address: string;
  backend: string;
  rank: number;
  /** JoinReply.member_secret: every later call of this worker must carry it. */
  secret: Buffer;
  control?: ServerWritableStream<ControlRequest__Output, ControlMessage>;
  seq: number;
  step: number;
  lastSeen: number;
  metrics?: WorkerMetrics__Output;
  /** The step `metrics` are of. */
  metricsStep: number;
  /** Its all-reduce failed in the current ring epoch: it applied nothing and waits for a new ring. */
  failure?: RingFailure__Output;
  lossScale: number;
  /** The step in flight as its last heartbeat told it (phase and time in it). */
  progress?: StepProgress__Output;
  /** Sums over the run, for the summary. */
  totals: { steps: number; samplesPerSec: number; tokensPerSec: number; stepMs: number; computeMs: number; allReduceMs: number; waitingMs: number; peakRssBytes: number; peakTensorBytes: number };
}

/** A worker dropped from the run, for the summary (it may join again: rejoin.ts). */
export interface LostWorker {
  workerId: string;
  /** Its rank in the ring it was lost from. */
  rank: number;
  /** The step it was lost in (1-based, like the step log lines). */
  step: number;
  reason: string;
  /** Workers left after it. */
  worldSize: number;
}

/** A worker that came back (the same id after a loss, or a replacement) and the step whose ring it entered. */
export interface RejoinedWorker {
  workerId: string;
  /** The first step it trained (1-based). */
  step: number;
  /** Workers in the ring it entered. */
  worldSize: number;
}

/** A member as its Join made it: no rank yet, its own secret, at `step`. */
export function newMember(req: JoinRequest__Output, step: number): Member {
  return {
    workerId: req.workerId, address: req.address, backend: req.backend, rank: -1, secret: newSecret(), seq: 0, step, metricsStep: step, lastSeen: Date.now(), lossScale: 1,
    totals: { steps: 0, samplesPerSec: 0, tokensPerSec: 0, stepMs: 0, computeMs: 0, allReduceMs: 0, waitingMs: 0, peakRssBytes: 0, peakTensorBytes: 0 },
  };
}

/** Adds a finished step's figures (from its heartbeat) to the member's sums for the summary. */
export function addStepMetrics(m: Member, step: number, x: WorkerMetrics__Output): void {
  m.metrics = x;
  m.metricsStep = step;
  const t = m.totals;
  t.steps += 1; t.samplesPerSec += x.samplesPerSec; t.tokensPerSec += x.tokensPerSec; t.stepMs += x.stepMs;
  t.computeMs += x.computeMs; t.allReduceMs += x.allReduceMs; t.waitingMs += x.waitingMs;
  t.peakRssBytes = Math.max(t.peakRssBytes, x.rssBytes);
  t.peakTensorBytes = Math.max(t.peakTensorBytes, x.tensorBytes);
}
