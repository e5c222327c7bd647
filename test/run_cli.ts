/** Runs the built `coordinator` executable as a user would, for the CLI tests. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/paths.js';

const run = promisify(execFile);
export const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');

/** Exit code, stdout and stderr of `coordinator ...args` (logs at warn unless the args say otherwise). */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, maxBuffer: 64 << 20, env: { ...process.env, DSI_LOG_LEVEL: 'warn' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
