import { pino, type Logger } from 'pino';
import type { LogFormat } from './config.js';
import { TerminalSink } from './console/terminal_sink.js';

export type { Logger };

export interface LogOptions {
  /** pino level; @default 'info' */
  level?: string;
  /** Write logs to stderr so that stdout stays free for `--json` output. @default true */
  toStderr?: boolean;
}

/** The process's root logger, pino JSON lines; components take `log.child({ component })`. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env['DSI_LOG_LEVEL'] ?? 'info';
  // synchronous writes: training steps are CPU-bound and would starve an async logger until the run ends
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: options.toStderr === false ? 1 : 2, sync: true }));
}

/** A command's logger on stderr as a person or a machine reads it (runtime.logFormat). */
export interface LogConsole {
  readonly log: Logger;
  /** true: readable lines and a progress bar; false: pino JSON lines, exactly as createLogger writes them. */
  readonly pretty: boolean;
  /** A child process's stderr line (pretty only: in JSON the child writes stderr itself); `component` names it. */
  childLine(line: string, component: string): void;
  /**
   * Moves the progress bar as a record `{ msg, ...fields }` would (pretty only; nothing is logged):
   * for progress more often than the log reports it.
   */
  progress(msg: string, fields: object): void;
  /** Leaves the progress bar's last state on the screen; call before printing the result on stdout. */
  close(): void;
}

export interface ConsoleOptions {
  level?: string;
  /** auto: pretty when stderr is a terminal. @default 'auto' */
  format?: LogFormat;
}

/** The logger of a command: JSON lines, or on a terminal readable lines and a live progress bar. */
export function openConsole(options: ConsoleOptions = {}): LogConsole {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (!pretty) {
    const log = createLogger(options.level === undefined ? {} : { level: options.level });
    return { log, pretty, childLine: (line) => process.stderr.write(line + '\n'), progress: () => undefined, close: () => undefined };
  }
  const sink = new TerminalSink({ fd: 2, columns: () => process.stderr.columns || Number(process.env['COLUMNS']) || 120, colour: process.stderr.isTTY === true && !process.env['NO_COLOR'] });
  const log = pino({ level: options.level ?? process.env['DSI_LOG_LEVEL'] ?? 'info', base: { pid: process.pid } }, sink);
  return {
    log, pretty, childLine: (line, component) => sink.line(line, component), progress: (msg, fields) => sink.showProgress({ ...fields, msg, time: Date.now() }),
    close: () => sink.close(),
  };
}
