/** Runs the built `coordinator` executable as a user would, for the CLI tests. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/runtime/paths.js';

const run = promisify(execFile);
export const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');

/** Exit code, stdout and stderr of `coordinator ...args` (logs at warn unless the args say otherwise). */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, maxBuffer: 64 << 20, env: { ...process.env, DSI_LOG_LEVEL: 'warn', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A pino line of a child process's stderr: `msg` plus whatever fields it logged. */
export type LogLine = { msg: string } & Record<string, unknown>;

/**
 * Collects a child process's structured (pino) stderr lines and waits for the first line that
 * matches; rejects when the process exits before one does.
 */
export class LogWatcher {
  readonly lines: LogLine[] = [];
  private readonly waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  private exitError: Error | undefined;
  private readonly rejecters = new Set<(e: Error) => void>();

  constructor(child: { stderr: NodeJS.ReadableStream | null; once(event: 'exit', fn: (code: number | null) => void): unknown }) {
    let partial = '';
    child.stderr?.on('data', (b: Buffer) => {
      partial += b.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) {
        let l: LogLine;
        try { l = JSON.parse(p) as LogLine; } catch { continue; }   // not a log line (a warning from a native library)
        if (typeof l.msg !== 'string') continue;
        this.lines.push(l);
        for (const w of this.waiters.filter((x) => x.match(l))) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(l); }
      }
    });
    child.once('exit', (code) => {
      this.exitError = new Error(`process exited (${code}) before the awaited log line`);
      for (const r of this.rejecters) r(this.exitError);
    });
  }

  /** The first line (already seen or still to come) that matches. */
  until(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<LogLine>((resolve, reject) => {
      this.rejecters.add(reject);
      this.waiters.push({ match, resolve: (l) => { this.rejecters.delete(reject); resolve(l); } });
    });
  }
}
