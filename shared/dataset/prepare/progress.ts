/**
 * Stages of `prepare` and their throughput: each stage logs progress (pino, at most every
 * PROGRESS_INTERVAL_MS) and, when it ends, one record of items, seconds and items per second that
 * goes into the manifest and the benchmark.
 */
import type { Logger } from '../../log.js';

/** Progress lines per stage: one every 2 s keeps a long run readable. */
const PROGRESS_INTERVAL_MS = 2000;

export interface StageRecord {
  stage: string;
  /** What `items` counts: "documents", "records", "queries". */
  unit: string;
  items: number;
  seconds: number;
  items_per_s: number;
}

export class StageTimer {
  private readonly t0 = performance.now();
  private lastLog = this.t0;

  constructor(private readonly log: Logger, private readonly stages: Stages, readonly stage: string, readonly unit: string, private readonly total?: number) {}

  /** Reports `done` items so far; logs when the interval has passed. */
  tick(done: number): void {
    const now = performance.now();
    if (now - this.lastLog < PROGRESS_INTERVAL_MS) return;
    this.lastLog = now;
    const seconds = (now - this.t0) / 1000;
    this.log.info({ stage: this.stage, done, total: this.total, unit: this.unit, perSec: Math.round(done / seconds) }, 'progress');
  }

  /** Ends the stage with `items` done; logs and records it. */
  end(items: number): StageRecord {
    const seconds = (performance.now() - this.t0) / 1000;
    const record: StageRecord = { stage: this.stage, unit: this.unit, items, seconds: round(seconds), items_per_s: round(seconds > 0 ? items / seconds : 0) };
    this.stages.records.push(record);
    this.log.info({ stage: this.stage, items, unit: this.unit, seconds: record.seconds, perSec: record.items_per_s }, 'stage done');
    return record;
  }
}

export class Stages {
  readonly records: StageRecord[] = [];
  constructor(private readonly log: Logger) {}

  start(stage: string, unit: string, total?: number): StageTimer {
    this.log.info({ stage, total, unit }, 'stage');
    return new StageTimer(this.log, this, stage, unit, total);
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
