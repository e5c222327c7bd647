/** The worker processes `coordinator start` runs on its own machine, and waiting for them to end. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import type { Logger } from '../../shared/runtime/log.js';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import type { Membership } from './membership.js';

/**
 * V8 flags of a worker process. --single-threaded-gc: V8's parallel and concurrent GC threads took a
 * training process to ~125% of a core (bench model, t5-tiny, wasm), so two workers on two cores each
 * ran a step ~1.4x slower than one alone (450 -> 620-650 ms); with the collector on the main thread,
 * ~105% of a core and 470-500 ms side by side, the same 445 ms alone. Must be given at start: V8
 * refuses it at run time. worker/cli.ts's first line gives it to `worker` started by hand.
 */
export const WORKER_NODE_FLAGS = ['--single-threaded-gc'];

/**
 * Starts `worker` processes on this machine, each its own OS process with its own gRPC server.
 * With `childLine` (a terminal's console) their JSON log lines go through it, under the progress
 * bar; without, they write the same stderr as the coordinator.
 */
export function spawnLocalWorkers(
  cfg: Config, configFile: string, coordinator: string, members: Membership, log: Logger, childLine?: (line: string, component: string) => void,
): ChildProcess[] {
  const cli = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'npm run build'`);
  return Array.from({ length: cfg.cluster.workers }, (_, i) => {
    const workerId = `local-${String(i).padStart(3, '0')}`;
    // the run's own resolved config file: local workers build exactly the coordinator's model
    // (fixed --worker-port/--ring-port/--health-port are for one worker per host: local workers share this one, any
    // free port each, and no health port: the coordinator watches its own workers)
    const args = [cli, '--config', configFile, '--coordinator', coordinator, '--worker-id', workerId, '--managed', '--worker-port', '0', '--ring-port', '0', '--health-port=-1', ...(childLine ? ['--log-format', 'json'] : [])];
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...args], { stdio: ['ignore', 'inherit', childLine ? 'pipe' : 'inherit'] });
    if (childLine && child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => childLine(l, workerId));
    child.on('exit', (code, signal) => {
      if (code === 0) return;
      members.exited(workerId, `process ${child.pid} exited with ${signal ?? `code ${code}`}`);
    });
    log.info({ workerId, pid: child.pid }, 'worker process started');
    return child;
  });
}

export function waitForExit(children: ChildProcess[], timeoutMs: number): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, timeoutMs);
    c.on('exit', () => { clearTimeout(t); resolve(); });
  }))).then(() => undefined);
}
