/**
 * The coordinator's picture of every worker's steps, from NATS or from the gRPC heartbeats:
 * each (rank, step) counted once, whichever source brings it first, so a NATS gap filled by
 * heartbeats and NATS's buffered backlog arriving later add up to each step exactly once.
 * Views (Prometheus, the timeline, `top`, the dashboard) subscribe with onStep().
 */
import type { RunEventBody, StepTelemetry } from '../../shared/runtime/telemetry/payloads.js';

/** One evaluation during training (the `evaluated` run event without its type). */
export type EvaluationPoint = Omit<Extract<RunEventBody, { type: 'evaluated' }>, 'type'>;

export type TelemetrySource = 'nats' | 'grpc';

/** Per-rank sums over the run. */
export interface RankTotals {
  steps: number;
  samples: number;
  tokens: number;
  stepMs: number;
  phasesMs: StepTelemetry['phasesMs'];
  bytesSent: number;
  skipped: number;
}

/** Ranks and worker-id lengths beyond any real run (coordinator/cluster/validate.ts has the same bounds). */
const MAX_RANKS = 4096;
const MAX_WORKER_ID_CHARS = 128;

/** Recent steps kept per rank for the dashboard's charts. */
export const HISTORY_STEPS = 500;

export class TelemetryAggregator {
  private readonly latestByRank = new Map<number, StepTelemetry>();
  private readonly totalsByRank = new Map<number, RankTotals>();
  private readonly seen = new Map<number, Set<number>>();
  private readonly historyByRank = new Map<number, StepTelemetry[]>();
  private readonly listeners: Array<(t: StepTelemetry, source: TelemetrySource) => void> = [];
  /** Steps taken from each source (duplicates from the other source are not counted). */
  readonly received: Record<TelemetrySource, number> = { nats: 0, grpc: 0 };
  duplicates = 0;
  /** --eval-every's retrieval figures, in step order (the dashboard's evaluation curve). */
  readonly evaluations: EvaluationPoint[] = [];

  /** Figures refused: another run's, out of bounds, or a rank that no joined worker holds (NATS is open to more than the run). */
  refused = 0;
  /**
   * Whether NATS figures may be taken: `workerId` holds `rank` in the run now and `step` is one of
   * the run's (the coordinator's membership); undefined: any. So NATS cannot create ranks that never joined.
   */
  accept: ((t: StepTelemetry) => boolean) | undefined;

  constructor(readonly runId: string) {}

  /** Takes a step's figures; false when that rank's step was already recorded (or another run's, or a rank that did not join). */
  record(t: StepTelemetry, source: TelemetrySource): boolean {
    if (t.runId !== this.runId || !wellFormed(t) || (source === 'nats' && this.accept && !this.accept(t))) { this.refused += 1; return false; }
    const seen = this.seen.get(t.rank) ?? new Set<number>();
    this.seen.set(t.rank, seen);
    if (seen.has(t.step)) { this.duplicates += 1; return false; }
    seen.add(t.step);
    this.received[source] += 1;
    const latest = this.latestByRank.get(t.rank);
    if (!latest || t.step > latest.step) this.latestByRank.set(t.rank, t);
    const tot = this.totalsByRank.get(t.rank) ?? { steps: 0, samples: 0, tokens: 0, stepMs: 0, phasesMs: { data: 0, forwardBackward: 0, waiting: 0, allReduce: 0, optimizer: 0 }, bytesSent: 0, skipped: 0 };
    tot.steps += 1; tot.samples += t.samples; tot.tokens += t.tokens; tot.stepMs += t.stepMs; tot.bytesSent += t.bytesSent;
    tot.skipped += t.skipped ? 1 : 0;
    for (const k of Object.keys(tot.phasesMs) as Array<keyof RankTotals['phasesMs']>) tot.phasesMs[k] += t.phasesMs[k];
    this.totalsByRank.set(t.rank, tot);
    const h = this.historyByRank.get(t.rank) ?? [];
    h.push(t);
    if (h.length > HISTORY_STEPS) h.splice(0, h.length - HISTORY_STEPS);
    this.historyByRank.set(t.rank, h);
    for (const l of this.listeners) l(t, source);
    return true;
  }

  /** Calls `fn` for every step recorded from now on; returns the function that stops it. */
  onStep(fn: (t: StepTelemetry, source: TelemetrySource) => void): () => void {
    this.listeners.push(fn);
    return () => { const i = this.listeners.indexOf(fn); if (i >= 0) this.listeners.splice(i, 1); };
  }

  ranks(): number[] {
    return [...this.latestByRank.keys()].sort((a, b) => a - b);
  }

  latest(rank: number): StepTelemetry | undefined {
    return this.latestByRank.get(rank);
  }

  totals(rank: number): RankTotals | undefined {
    return this.totalsByRank.get(rank);
  }

  history(rank: number): readonly StepTelemetry[] {
    return this.historyByRank.get(rank) ?? [];
  }

  /**
   * The ring re-formed with `worldSize` ranks to redo the steps after `step`: ranks past the new size
   * leave the live views (their totals stay), and steps after `step` may be recorded again (a rank
   * number may now belong to another worker, and the redone step replaces the interrupted one).
   */
  regrouped(worldSize: number, step: number): void {
    for (const rank of [...this.latestByRank.keys()]) if (rank >= worldSize) this.latestByRank.delete(rank);
    for (const seen of this.seen.values()) for (const s of [...seen]) if (s > step) seen.delete(s);
  }

  /** Steps recorded for `rank`, sorted. */
  stepsOf(rank: number): number[] {
    return [...(this.seen.get(rank) ?? [])].sort((a, b) => a - b);
  }
}

/** Bounds every view relies on: integer rank and step, counters and times finite and not negative (Prometheus counters cannot go down). */
function wellFormed(t: StepTelemetry): boolean {
  const counts = [t.stepMs, t.samples, t.tokens, t.bytesSent, t.samplesPerSec, t.tokensPerSec, t.rssBytes, t.tensorBytes, t.lossScale, t.startedAtMs, ...Object.values(t.phasesMs), ...Object.values(t.refused ?? {})];
  return Number.isInteger(t.rank) && t.rank >= 0 && t.rank < MAX_RANKS && Number.isInteger(t.step) && t.step >= 0
    && counts.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) && t.workerId.length <= MAX_WORKER_ID_CHARS;
}
