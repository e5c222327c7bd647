import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  /** pino level; @default 'info' */
  level?: string;
  /** Write logs to stderr so that stdout stays free for `--json` output. @default true */
  toStderr?: boolean;
}

/** The process's root logger; components take `log.child({ component })`. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env['DSI_LOG_LEVEL'] ?? 'info';
  // synchronous writes: training steps are CPU-bound and would starve an async logger until the run ends
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: options.toStderr === false ? 1 : 2, sync: true }));
}
