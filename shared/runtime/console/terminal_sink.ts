/**
 * pino's destination on a terminal: each JSON record pino writes becomes one readable line, and
 * the progress records move a bar kept on the screen's last line(s). Written synchronously like the
 * JSON destination (training steps are CPU-bound; an async writer would hold lines until the run ends).
 * The bar is erased before a line is printed and drawn again under it, so lines scroll above it.
 */
import { writeSync } from 'node:fs';
import { formatRecord, printable, progressOf, type LogRecord } from './records.js';
import { ProgressBar } from './progress_bar.js';

export interface TerminalSinkOptions {
  /** File descriptor to write (2: stderr). */
  fd: number;
  /** Columns of the terminal: bar lines are cut to it (a wrapped bar could not be erased). @default 100 */
  columns?: () => number;
  /** ANSI colour on the level. @default true */
  colour?: boolean;
  /** How often the bar's clocks tick between records. @default 1000 */
  redrawMs?: number;
}

/** Records after which a task's clock starts (its first progress record comes later). */
const TASK_STARTS: Record<string, string> = { 'all workers joined': 'train' };

export class TerminalSink {
  private bar: ProgressBar | undefined;
  /** Lines of the bar now on the screen (0: none). */
  private drawn = 0;
  private readonly starts = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private partial = '';
  /** The task whose bar ended last (a stage's 'stage done' after its bar reached 100% adds nothing). */
  private settledTask = '';

  constructor(private readonly o: TerminalSinkOptions) {
    this.timer = setInterval(() => this.redraw(), o.redrawMs ?? 1000);
    this.timer.unref();
  }

  /** pino's destination interface: one or more whole JSON lines. */
  write(chunk: string): boolean {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l);
    return true;
  }

  /** A line of text: a pino JSON record (formatted), anything else as it is. `component` names a child process's records. */
  line(text: string, component?: string): void {
    if (text.trim() === '') return;
    let r: LogRecord | undefined;
    try { r = text.startsWith('{') ? JSON.parse(text) as LogRecord : undefined; } catch { r = undefined; }
    if (!r || typeof r !== 'object') { this.print(printable(text)); return; }
    if (component && typeof r['component'] !== 'string') r['component'] = component;
    const task = typeof r.msg === 'string' ? TASK_STARTS[r.msg] : undefined;
    if (task && !component) this.starts.set(task, typeof r.time === 'number' ? r.time : Date.now());
    // a child's records are printed, never a bar: the bar is this process's run; the bar stands for
    // its records, but a stage that ends without a bar of its own is a line
    const p = component ? undefined : progressOf(r);
    if (p && (r.msg !== 'stage done' || this.bar?.task === p.task || this.settledTask === p.task)) this.progress({ ...p, task: printable(p.task) });
    else this.print(formatRecord(r, this.o.colour ?? true));
  }

  /** A progress record shown on the bar only, not printed (a step between the logged ones). */
  showProgress(r: LogRecord): void {
    const p = progressOf(r);
    if (p) this.progress({ ...p, task: printable(p.task) });
  }

  private progress(p: Parameters<ProgressBar['update']>[0]): void {
    // the end of a bar that already ended (the last step logged and shown, a stage's 'stage done'): it stays as a line
    if (this.bar?.task !== p.task && this.settledTask === p.task && p.total > 0 && p.done >= p.total) return;
    const now = Date.now();
    if (this.bar && this.bar.task === p.task) this.bar.update(p, now);
    else {
      if (this.bar) this.settle();
      this.bar = new ProgressBar(p, now, this.starts.get(p.task) ?? now);
    }
    if (this.bar.finished) this.settle();
    else this.redraw();
  }

  /** The bar's last state stays as a line; the next bar starts below it. */
  private settle(): void {
    const bar = this.bar;
    this.bar = undefined;
    if (bar) { this.settledTask = bar.task; this.print(bar.lines(Date.now()).join('\n')); }
  }

  private print(text: string): void {
    this.out(this.erase() + text + '\n' + this.draw());
  }

  private redraw(): void {
    if (this.bar) this.out(this.erase() + this.draw());
  }

  /** Cursor codes that clear the bar's lines and leave the cursor at the start of its first. */
  private erase(): string {
    if (this.drawn === 0) return '';
    const s = '\r\x1b[2K' + '\x1b[1A\x1b[2K'.repeat(this.drawn - 1);
    this.drawn = 0;
    return s;
  }

  /** The bar's lines, cut to the terminal's width, without a final newline (the cursor stays on it). */
  private draw(): string {
    if (!this.bar) return '';
    const width = Math.max(20, (this.o.columns?.() ?? 100) - 1);
    const lines = this.bar.lines(Date.now()).map((l) => (l.length > width ? l.slice(0, width) : l));
    this.drawn = lines.length;
    return lines.join('\n');
  }

  private out(s: string): void {
    if (s === '') return;
    let buf = Buffer.from(s);
    for (let tries = 0; buf.length > 0 && tries < 1000; tries++) {
      try { buf = buf.subarray(writeSync(this.o.fd, buf)); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;   // the terminal went away: nothing to tell it
      }
    }
  }

  /** Leaves the bar's last state as a line and stops the clock; later records still print. */
  close(): void {
    clearInterval(this.timer);
    if (this.partial) { this.line(this.partial); this.partial = ''; }
    this.settle();
  }
}
