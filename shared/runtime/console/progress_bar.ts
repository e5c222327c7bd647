/**
 * A progress bar's state and its text: `train  [#####-----]  420/1400 steps  30%  loss 2.310
 * 323 samples/s  2:10 elapsed  5:03 left`, and under it a compact line per rank when several train.
 * No colour, no cursor codes here: the terminal sink draws these lines and knows the screen.
 */
import type { ProgressUpdate } from './records.js';

const BAR_CELLS = 24;

/** m:ss, or h:mm:ss from an hour on; '-' when unknown. */
export function clock(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function figure(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export class ProgressBar {
  private last: ProgressUpdate;
  /** When the bar first showed, and what was done then: the measured rate starts there. */
  private readonly startMs: number;
  private readonly startDone: number;
  private lastMs: number;

  constructor(first: ProgressUpdate, nowMs: number, startMs = nowMs) {
    this.last = first;
    this.startMs = startMs;
    this.startDone = startMs === nowMs ? first.done : 0;
    this.lastMs = nowMs;
  }

  get task(): string { return this.last.task; }
  get finished(): boolean { return this.last.total > 0 && this.last.done >= this.last.total; }

  update(u: ProgressUpdate, nowMs: number): void {
    this.last = u;
    this.lastMs = nowMs;
  }

  /** Seconds left: the record's own estimate run down since it came, else from the rate measured here. */
  private left(nowMs: number): number | undefined {
    const u = this.last;
    if (this.finished) return 0;
    if (u.etaSec !== undefined) return Math.max(0, u.etaSec - (nowMs - this.lastMs) / 1000);
    const rate = (u.done - this.startDone) / ((this.lastMs - this.startMs) / 1000);
    return rate > 0 && Number.isFinite(rate) ? (u.total - u.done) / rate - (nowMs - this.lastMs) / 1000 : undefined;
  }

  /** The bar's lines (the first always; one more with the ranks when several report). */
  lines(nowMs: number): string[] {
    const u = this.last;
    const share = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
    const full = Math.round(share * BAR_CELLS);
    const parts = [
      `${u.task}  [${'#'.repeat(full)}${'-'.repeat(BAR_CELLS - full)}]`, `${u.done}/${u.total} ${u.unit}`, `${(share * 100).toFixed(0)}%`,
      ...(u.loss !== undefined ? [`loss ${Number.isFinite(u.loss) ? u.loss.toFixed(3) : 'skipped'}`] : []),
      ...(u.rate !== undefined ? [`${figure(u.rate)} ${u.rateUnit ?? `${u.unit}/s`}`] : []),
      `${clock((nowMs - this.startMs) / 1000)} elapsed`, `${clock(this.left(nowMs))} left`,
    ];
    const lines = [parts.join('  ')];
    if (u.ranks && u.ranks.length > 1)
      lines.push(`  ranks  ${u.ranks.map((r) => `${r.rank}: ${figure(r.samplesPerSec)}/s wait ${(r.waiting * 100).toFixed(0)}%`).join('  |  ')}`);
    return lines;
  }
}
