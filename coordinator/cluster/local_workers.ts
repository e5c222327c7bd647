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

/** How long a dropped local worker's process may take to exit on its own before it is killed for a restart. */
const EXIT_GRACE_MS = 1000;

/**
 * The `worker` processes on this machine, each its own OS process with its own gRPC server. With
 * `childLine` (a terminal's console) their JSON log lines go through it, under the progress bar;
 * without, they write the same stderr as the coordinator. One the run lost (its process exited
 * or was dropped) is started again under its id while cluster.maxRestarts allows: it re-joins
 * at the next step boundary (Membership.grow).
 */
export class LocalWorkers {
  /** Every process started, restarts included (for waiting on them, or killing them). */
  readonly children: ChildProcess[] = [];
  /** Restarts done so far in the run. */
  restarts = 0;
  /** Each worker id's newest process. */
  private readonly current = new Map<string, ChildProcess>();
  /** Lost workers being brought back (a restart started, or a kill that leads to one), until they are members again. */
  private readonly returning = new Set<string>();
  /** Dropped workers killed so that a restart brings them back (their exit not seen yet). */
  private readonly killed = new Set<string>();
  /** When a dropped worker's process was first seen still running. */
  private readonly droppedAt = new WeakMap<ChildProcess, number>();
  private readonly cli = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');

  constructor(
    private readonly cfg: Config, private readonly configFile: string, private readonly coordinator: string, private readonly members: Membership,
    private readonly log: Logger, private readonly childLine?: (line: string, component: string) => void,
  ) {
    if (!existsSync(this.cli)) throw new Error(`${this.cli} is missing: run 'npm run build'`);
    for (let i = 0; i < cfg.cluster.workers; i++) this.spawn(`local-${String(i).padStart(3, '0')}`);
  }

  private spawn(workerId: string): void {
    const { childLine } = this;
    // the run's own resolved config file: local workers build exactly the coordinator's model
    // (fixed --worker-port/--ring-port/--health-port are for one worker per host: local workers share this one, any
    // free port each, and no health port: the coordinator watches its own workers)
    const args = [this.cli, '--config', this.configFile, '--coordinator', this.coordinator, '--worker-id', workerId, '--managed', '--worker-port', '0', '--ring-port', '0', '--health-port=-1', ...(childLine ? ['--log-format', 'json'] : [])];
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...args], { stdio: ['ignore', 'inherit', childLine ? 'pipe' : 'inherit'] });
    if (childLine && child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => childLine(l, workerId));
    child.on('exit', (code, signal) => {
      if (code !== 0) this.members.exited(workerId, `process ${child.pid} exited with ${signal ?? `code ${code}`}`);
      this.restartIfWanted(workerId, child.pid);
    });
    this.children.push(child);
    this.current.set(workerId, child);
    this.log.info({ workerId, pid: child.pid }, 'worker process started');
  }

  /** A lost worker's process ended (killed, or told it was dropped): start it again, if restarts are left. */
  private restartIfWanted(workerId: string, pid: number | undefined): void {
    this.killed.delete(workerId);
    if (!this.members.wantsBack(workerId)) { this.returning.delete(workerId); return; }
    if (this.restarts >= this.cfg.cluster.maxRestarts) {
      if (this.cfg.cluster.maxRestarts > 0) this.log.warn({ workerId, maxRestarts: this.cfg.cluster.maxRestarts }, 'worker not restarted: cluster.maxRestarts used up');
      this.returning.delete(workerId);
      return;
    }
    this.restarts += 1;
    this.log.warn({ workerId, pid, restart: this.restarts, maxRestarts: this.cfg.cluster.maxRestarts }, 'restarting a lost worker');
    this.returning.add(workerId);
    this.spawn(workerId);
  }

  /**
   * The lost local workers that are coming back, for the survivors to wait for (cluster.restartWaitMs).
   * A lost worker whose process still runs (dropped as silent: hung, stopped) is killed first while
   * restarts are left, so that --max-restarts brings it back like a crashed one (torchrun's agent
   * restarts a hung worker group the same way).
   */
  bringBackLost(): string[] {
    const now = Date.now();
    for (const [id, child] of this.current) {
      const running = child.exitCode === null && child.signalCode === null;
      if (!running || this.killed.has(id) || !this.members.wantsBack(id)) continue;
      if (this.restarts + this.killed.size >= this.cfg.cluster.maxRestarts) break;
      this.returning.add(id);
      // a worker whose control stream just broke is usually exiting already (killed, crashed): give
      // its exit a moment before taking it for hung
      const seen = this.droppedAt.get(child) ?? now;
      this.droppedAt.set(child, seen);
      if (now - seen < EXIT_GRACE_MS) continue;
      this.log.warn({ workerId: id, pid: child.pid, droppedMs: now - seen }, 'killing a dropped local worker to restart it');
      this.killed.add(id);
      child.kill('SIGKILL');
    }
    for (const id of this.returning) if (this.members.members.has(id)) this.returning.delete(id);
    return [...this.returning];
  }
}

export function waitForExit(children: ChildProcess[], timeoutMs: number): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, timeoutMs);
    c.on('exit', () => { clearTimeout(t); resolve(); });
  }))).then(() => undefined);
}
