/**
 * Stages of `prepare` and their throughput: each stage logs progress (pino, at most every
 * PROGRESS_INTERVAL_MS) and, when it ends, one record of items, seconds and items per second that
 * goes into the manifest and the benchmark.
 *
 * Memory per stage: the resident set is sampled at every tick() and at the end (`rss_mb`: the largest
 * sample), and the kernel's high-water mark of the whole process is read at the end (`max_rss_mb`:
 * it rises only in a stage that set a new peak). A synchronous stage that peaks between two ticks (the
 * SVD, the BM25 inversion) shows its peak only in `max_rss_mb`. `live_mb` is the JS heap in use plus
 * the typed arrays' and buffers' memory at the stage's end, after a full collection when node runs
 * with --expose-gc (as `bench prepare --passages` runs it): what the stage's data structures still hold,
 * which the resident set, lazily collected, only bounds.
 */
import type { Logger } from '../../runtime/log.js';

/** Progress lines per stage: one every 2 s keeps a long run readable. */
const PROGRESS_INTERVAL_MS = 2000;

export interface StageRecord {
  stage: string;
  /** What `items` counts: "documents", "records", "queries". */
  unit: string;
  items: number;
  seconds: number;
  items_per_s: number;
  /** Largest resident set sampled during the stage, MiB. */
  rss_mb: number;
  /** The process's peak resident set so far (getrusage ru_maxrss), MiB. */
  max_rss_mb: number;
  /** JS heap used + typed arrays and buffers at the stage's end (after a full GC when exposed), MiB. */
  live_mb: number;
}

const MIB = 2 ** 20;

export class StageTimer {
  private readonly t0 = performance.now();
  private lastLog = this.t0;
  private rssPeak = process.memoryUsage.rss();

  constructor(private readonly log: Logger, private readonly stages: Stages, readonly stage: string, readonly unit: string, private readonly total?: number) {}

  /** Reports `done` items so far; logs when the interval has passed. */
  tick(done: number): void {
    this.rssPeak = Math.max(this.rssPeak, process.memoryUsage.rss());
    const now = performance.now();
    if (now - this.lastLog < PROGRESS_INTERVAL_MS) return;
    this.lastLog = now;
    const seconds = (now - this.t0) / 1000;
    this.log.info({ stage: this.stage, done, total: this.total, unit: this.unit, perSec: Math.round(done / seconds) }, 'progress');
  }

  /** Ends the stage with `items` done; logs and records it. */
  end(items: number): StageRecord {
    const seconds = (performance.now() - this.t0) / 1000;
    const rss = Math.max(this.rssPeak, process.memoryUsage.rss());
    const maxRss = process.resourceUsage().maxRSS * 1024; // reported in KiB
    (globalThis as { gc?: () => void }).gc?.();
    // arrayBuffers, not external: external also counts buffers already collected whose memory V8
    // releases later, on another thread
    const mem = process.memoryUsage();
    const record: StageRecord = {
      stage: this.stage, unit: this.unit, items, seconds: round(seconds), items_per_s: round(seconds > 0 ? items / seconds : 0),
      rss_mb: round(rss / MIB), max_rss_mb: round(maxRss / MIB), live_mb: round((mem.heapUsed + mem.arrayBuffers) / MIB),
    };
    this.stages.records.push(record);
    this.log.info({ stage: this.stage, items, unit: this.unit, seconds: record.seconds, perSec: record.items_per_s, rssMb: record.rss_mb, maxRssMb: record.max_rss_mb, liveMb: record.live_mb }, 'stage done');
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
