/**
 * A timeline of the run in Chrome's trace event format (like Horovod's timeline): one process per
 * worker (pid = rank) with a complete event ('X') per phase of every step: forward+backward (data
 * reading included, its share in args), all-reduce waiting, all-reduce, optimizer. Open it in
 * chrome://tracing or https://ui.perfetto.dev; a straggler shows as the others' long waiting.
 *
 * Written as the steps arrive, in the JSON array form, and closed with ']' at the end (the trace
 * viewers also read a file whose run was cut short, without the ']'). Times are whole microseconds
 * since the timeline began; each phase ends where the next begins, so phases never overlap.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { StepTelemetry } from '../../shared/runtime/telemetry/payloads.js';
import type { TelemetryAggregator } from './aggregator.js';

export interface ChromeTraceEvent {
  name: string;
  /** 'X': complete event (ts + dur); 'M': metadata (process name and order). */
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  /** Microseconds. */
  ts: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

/** Phase names in the order they run within a step. */
export const TIMELINE_PHASES = ['forward+backward', 'all-reduce waiting', 'all-reduce', 'optimizer'] as const;

export interface TimelineOptions {
  file: string;
  aggregator: TelemetryAggregator;
  /** Unix ms the timeline's time 0 stands for. @default Date.now() */
  originMs?: number;
}

export class TimelineWriter {
  private readonly fd: number;
  private readonly originMs: number;
  private readonly named = new Set<number>();
  private first = true;
  private readonly stop: () => void;
  /** Step events written. */
  steps = 0;

  constructor(readonly o: TimelineOptions) {
    this.originMs = o.originMs ?? Date.now();
    this.fd = openSync(o.file, 'w');
    writeSync(this.fd, '[\n');
    this.stop = o.aggregator.onStep((t) => this.step(t));
  }

  private write(e: ChromeTraceEvent): void {
    writeSync(this.fd, (this.first ? '' : ',\n') + JSON.stringify(e));
    this.first = false;
  }

  private step(t: StepTelemetry): void {
    const pid = t.rank;
    if (!this.named.has(pid)) {
      this.named.add(pid);
      this.write({ name: 'process_name', ph: 'M', pid, tid: 0, ts: 0, args: { name: `rank ${t.rank} (${t.workerId})` } });
      this.write({ name: 'process_sort_index', ph: 'M', pid, tid: 0, ts: 0, args: { sort_index: t.rank } });
    }
    const p = t.phasesMs;
    const durationsMs = [p.data + p.forwardBackward, p.waiting, p.allReduce, p.optimizer];
    // boundaries rounded to whole microseconds: each phase ends exactly where the next begins
    let startMs = t.startedAtMs - this.originMs;
    TIMELINE_PHASES.forEach((name, i) => {
      const endMs = startMs + (durationsMs[i] ?? 0);
      const ts = Math.round(startMs * 1000), end = Math.round(endMs * 1000);
      this.write({
        name, cat: 'step', ph: 'X', pid, tid: 0, ts, dur: end - ts,
        args: i === 0 ? { step: t.step, data_ms: p.data, loss: t.loss } : { step: t.step },
      });
      startMs = endMs;
    });
    this.steps += 1;
  }

  /** Ends the array and closes the file. */
  close(): void {
    this.stop();
    writeSync(this.fd, '\n]\n');
    closeSync(this.fd);
  }
}
