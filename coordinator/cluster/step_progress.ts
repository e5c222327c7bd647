/**
 * What a worker's heartbeats say about the step in flight (HeartbeatRequest.progress). A worker's
 * step computes on a thread of its own, so its heartbeats keep coming during a long step: liveness
 * counts them, and this says so once per step when a step outlasts the liveness window ("slow
 * step": alive, not dropped), and words the last progress heard for a worker that went silent.
 */
import type { Logger } from '../../shared/runtime/log.js';
import type { StepProgress__Output } from '../../proto/gen/dsi/v1/StepProgress.js';

const VERBS: Record<StepProgress__Output['phase'], string> = {
  STEP_PHASE_IDLE: 'idle after', STEP_PHASE_COMPUTE: 'computing', STEP_PHASE_REDUCE: 'all-reducing', STEP_PHASE_OPTIMIZER: 'applying',
};

/** "computing step 12 for 8400 ms"; "idle after step 11 for 20 ms". */
export function describeProgress(p: StepProgress__Output): string {
  return `${VERBS[p.phase]} step ${p.step} for ${p.elapsedMs} ms`;
}

/**
 * A worker heard within this many heartbeats from inside a step is working: a ring neighbour's
 * timeout naming it does not condemn it. The heartbeat part of the liveness timeout (run_cluster.ts
 * LIVENESS_FACTOR): on a loaded machine a healthy worker's timers fire late, so a few beats is too few.
 */
const WORKING_HEARTBEATS = 10;

/** Heard within the last WORKING_HEARTBEATS heartbeats, from inside a step (compute, all-reduce or optimizer). */
export function inStep(p: StepProgress__Output | undefined, lastSeen: number, heartbeatMs: number, now = Date.now()): boolean {
  return now - lastSeen <= WORKING_HEARTBEATS * heartbeatMs && p !== undefined && p.phase !== 'STEP_PHASE_IDLE';
}

/** Inside one step (any phase but idle) for longer than `maxStepMs` (0: no limit). */
export function stepOverrun(p: StepProgress__Output | undefined, maxStepMs = 0): boolean {
  return maxStepMs > 0 && p !== undefined && p.phase !== 'STEP_PHASE_IDLE' && p.elapsedMs > maxStepMs;
}

export class SlowStepWatch {
  /** workerId -> the step last reported slow (one line per worker and step). */
  private readonly reported = new Map<string, number>();

  constructor(private readonly o: { livenessTimeoutMs: number; log: Logger }) {}

  /** A heartbeat's progress: logs 'slow step' the first time a step in flight outlasts the liveness window. */
  heard(workerId: string, rank: number, p: StepProgress__Output | null | undefined): void {
    if (!p || p.phase === 'STEP_PHASE_IDLE' || p.elapsedMs <= this.o.livenessTimeoutMs || this.reported.get(workerId) === p.step) return;
    this.reported.set(workerId, p.step);
    this.o.log.info({ workerId, rank, step: p.step, phase: p.phase, elapsedMs: p.elapsedMs, livenessTimeoutMs: this.o.livenessTimeoutMs },
      `slow step: ${describeProgress(p)}, longer than the liveness timeout; its heartbeats keep it in the run`);
  }
}
