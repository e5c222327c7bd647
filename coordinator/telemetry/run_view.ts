/**
 * The run as the dashboard tells it (GET /api/run): what it trains (its settings), how far it is
 * (steps, the start), and what happened (the run events the coordinator records, in order, each
 * with its time). Per-step figures stay in /api/workers (snapshot.ts).
 */
import type { Config } from '../../shared/runtime/config.js';
import { TELEMETRY_VERSION, type RunEventBody } from '../../shared/runtime/telemetry/payloads.js';

/** What a person wants to know a run trains, as the dashboard shows it. */
export interface RunSettings {
  preset: string;
  mode: string;
  docids: string;
  workers: number;
  minWorkers: number;
  wire: string;
  transport: string;
  batchSize: number;
  learningRate: number;
  steps: number;
  /** Sparsity pruning reaches at its end step; 0: no pruning. */
  pruneTarget: number;
  /** --eval-every (0: only at the end). */
  evalEvery: number;
  checkpointEvery: number;
  dataDir: string;
  runDir: string;
}

/** A run event as the dashboard lists it: the body and when the coordinator recorded it. */
export type TimedRunEvent = RunEventBody & { atMs: number };

export interface RunView {
  v: typeof TELEMETRY_VERSION;
  runId: string;
  settings: RunSettings;
  /** The step this (possibly resumed) run started from. */
  startStep: number;
  startedAtMs: number;
  events: TimedRunEvent[];
  /** Events dropped from the front of a long run's list (EVENTS_KEPT). */
  eventsDropped: number;
}

/** Events kept for the dashboard: a long run with frequent checkpoints or masks keeps its latest. */
export const EVENTS_KEPT = 1000;

export function runSettings(cfg: Config, where: { docids: string; dataDir: string; runDir: string }): RunSettings {
  return {
    preset: cfg.model.from || cfg.model.preset, mode: cfg.train.mode, docids: where.docids, workers: cfg.cluster.workers, minWorkers: cfg.cluster.minWorkers,
    wire: cfg.cluster.wire, transport: cfg.cluster.transport, batchSize: cfg.train.batchSize, learningRate: cfg.train.learningRate, steps: cfg.train.steps,
    pruneTarget: cfg.prune.final, evalEvery: cfg.eval.every, checkpointEvery: cfg.cluster.checkpointEvery, dataDir: where.dataDir, runDir: where.runDir,
  };
}

/** The run's events as they come, and the view the dashboard polls. */
export class RunEvents {
  private readonly events: TimedRunEvent[] = [];
  private dropped = 0;
  private readonly startedAtMs = Date.now();

  constructor(private readonly runId: string, private readonly settings: RunSettings, private readonly startStep: number) {}

  record(e: RunEventBody, atMs = Date.now()): void {
    this.events.push({ ...e, atMs });
    if (this.events.length > EVENTS_KEPT) { this.events.shift(); this.dropped += 1; }
  }

  view(): RunView {
    return { v: TELEMETRY_VERSION, runId: this.runId, settings: this.settings, startStep: this.startStep, startedAtMs: this.startedAtMs, events: [...this.events], eventsDropped: this.dropped };
  }
}
