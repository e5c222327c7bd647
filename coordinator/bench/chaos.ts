/**
 * `coordinator bench chaos`: a real run under a seeded schedule of faults, then the same run without
 * any. Faults, one at a time, each at a step drawn from the seed: kill -9 of a random worker (started
 * again by --max-restarts, it re-joins at a step boundary), one SIGSTOP of a worker until the run
 * drops it (the coordinator then kills it to restart it; the bench's SIGCONT finds it gone), and one kill -9 of the
 * coordinator, which is started again with --resume=auto (its orphaned workers give up after
 * --coordinator-timeout-ms and it starts its own). Every figure comes from the runs themselves:
 * the example accounting from the positions the ranks reported for each applied step (kept in the
 * checkpoints, so a resume carries it), the stall from the coordinator's step log lines, and the
 * weights from the two runs' final checkpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import { Rng } from '../../shared/runtime/random.js';
import { loadTrainingCheckpoint } from '../../shared/training/checkpoint.js';

export interface ChaosOptions { workers: number; kills: number; seed: number; steps: number; batchSize: number; onFault?: (what: string) => void }

export interface ChaosResult {
  kills: number; recovered: number; coordinator_restarts: number; sigstops: number;
  examples_applied: number; examples_lost: number; examples_repeated: number;
  max_stall_ms: number;
  /** The longest gap between a fault and the next applied step, by kind of fault. */
  stall_after_ms: { kill: number; stop: number; coordinator: number };
  final_weights_rel_l2: number; steps: number; final_world_size: number; seconds: number;
}

type Line = { msg: string } & Record<string, unknown>;
/** A fault, `after` steps past the recovery from the one before (so the faults spread over the run, whatever a recovery takes). */
type Fault = { after: number; kind: 'kill' | 'stop' | 'coordinator' };

const CLI = path.join(REPO_ROOT, 'dist', 'coordinator', 'cli.js');
/** A fault not recovered from within this long fails the benchmark (it hangs nothing). */
const RECOVERY_TIMEOUT_MS = 180_000;
const HEARTBEAT_MS = 200, RING_TIMEOUT_MS = 3000, COORDINATOR_TIMEOUT_MS = 3000;

/** Steps from one recovery to the next fault: 1 to MAX_GAP. */
const MAX_GAP = 4;
/** Steps a run needs per fault: the gap, and the steps the survivors run while the lost worker restarts (a few seconds). */
export const STEPS_PER_FAULT = 12;

/** The seeded schedule: `kills` worker kills, one SIGSTOP and one coordinator kill, in a seeded order, each 1..MAX_GAP steps after the last recovery. */
export function chaosSchedule(kills: number, seed: number): Fault[] {
  const rng = new Rng(seed);
  const kinds: Fault['kind'][] = [...Array.from({ length: kills }, () => 'kill' as const), 'stop', 'coordinator'];
  return Array.from(rng.permutation(kinds.length), (k) => ({ after: 1 + rng.nextInt(MAX_GAP), kind: kinds[k] as Fault['kind'] }));
}

/** One `coordinator start` process and its log lines. */
class Run {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  stdout = '';
  private readonly waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[], onStep: (l: Line) => void, private readonly logFile: string) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, DSI_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (b: Buffer) => { this.stdout += b.toString(); });
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (text) => {
      appendFileSync(this.logFile, text + '\n');   // kept when the benchmark fails
      let l: Line;
      try { l = JSON.parse(text) as Line; } catch { return; }
      if (typeof l.msg !== 'string') return;
      this.lines.push(l);
      if (l.msg === 'step' && l['pid'] === this.child.pid) onStep(l);
      for (const w of this.waiters.filter((x) => x.match(l))) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(l); }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => { for (const w of this.waiters.splice(0)) w.resolve({ msg: 'exited' }); resolve(code); }));
  }

  /** The first line (seen or to come) that matches; rejects after RECOVERY_TIMEOUT_MS or when the process ends first. */
  async until(what: string, match: (l: Line) => boolean): Promise<Line> {
    const seen = this.lines.find(match);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    const l = await new Promise<Line>((resolve) => { this.waiters.push({ match, resolve }); timer = setTimeout(() => resolve({ msg: 'timeout' }), RECOVERY_TIMEOUT_MS); });
    clearTimeout(timer);
    if (l.msg === 'exited' || l.msg === 'timeout') throw new Error(`bench chaos: ${what}: the run ${l.msg === 'exited' ? 'exited' : `did not get there within ${RECOVERY_TIMEOUT_MS} ms`}`);
    return l;
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }

  /** The pid of worker `id`'s newest process. */
  workerPid(id: string): number {
    const started = this.lines.filter((l) => l.msg === 'worker process started' && l['workerId'] === id).at(-1);
    return started?.['pid'] as number;
  }
}

export async function benchChaos(o: ChaosOptions): Promise<ChaosResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-chaos-'));
  const t0 = performance.now();
  try {
    const common = ['start', '--workers', String(o.workers), '--steps', String(o.steps), '--batch-size', String(o.batchSize), '--lr', '1e-3', '--warmup-steps', '5',
      '--log-every', '1', '--max-queries', '4', '--json', '--metrics-port', '-1', '--no-nats', '--checkpoint-every', '3', '--seed', String(o.seed),
      '--heartbeat-ms', String(HEARTBEAT_MS), '--ring-timeout-ms', String(RING_TIMEOUT_MS), '--coordinator-timeout-ms', String(COORDINATOR_TIMEOUT_MS)];
    const runDir = path.join(dir, 'chaos');
    const faulty = [...common, '--run-dir', runDir, '--max-restarts', String(o.kills + 2)];
    let lastStepAt = 0, maxStall = 0;
    const stallAfter = { kill: 0, stop: 0, coordinator: 0 };
    let fault: { kind: Fault['kind']; at: number } | undefined;
    const onStep = (): void => {
      const now = Date.now();
      if (lastStepAt > 0) maxStall = Math.max(maxStall, now - lastStepAt);
      if (fault) stallAfter[fault.kind] = Math.max(stallAfter[fault.kind], now - fault.at);
      lastStepAt = now;
      fault = undefined;
    };
    const logFile = path.join(dir, 'chaos.log');
    let run = new Run(faulty, onStep, logFile);
    const schedule = chaosSchedule(o.kills, o.seed);
    let stepNow = 0;
    const stepOf = (l: Line): number => { stepNow = Math.max(stepNow, l['step'] as number); return stepNow; };
    const rng = new Rng(o.seed ^ 0x5eed);
    let recovered = 0, restarts = 0, kills = 0, stops = 0;
    await run.until('all workers joined', (l) => l.msg === 'all workers joined');
    for (const f of schedule) {
      const at = stepNow + f.after;
      await run.until(`step ${at} (too few --steps for the faults?)`, (l) => l.msg === 'step' && l['pid'] === run.child.pid && stepOf(l) >= at);
      const victim = `local-${String(rng.nextInt(o.workers)).padStart(3, '0')}`;
      const rejoinedBefore = run.count('workers re-joined');
      fault = { kind: f.kind, at: Date.now() };
      o.onFault?.(`${f.kind} ${f.kind === 'coordinator' ? '' : victim} at step ${at}`);
      if (f.kind === 'coordinator') {
        run.child.kill('SIGKILL');
        await run.exited;
        restarts += 1;
        run = new Run([...faulty, '--resume=auto'], onStep, logFile);
        await run.until('the restarted coordinator\'s ring', (l) => l.msg === 'all workers joined');
      } else {
        const pid = run.workerPid(victim);
        if (f.kind === 'kill') { process.kill(pid, 'SIGKILL'); kills += 1; }
        else {
          const lostBefore = run.lines.filter((l) => l.msg === 'worker lost' && l['workerId'] === victim).length;
          process.kill(pid, 'SIGSTOP');
          stops += 1;
          await run.until(`${victim} dropped`, (l) => l.msg === 'worker lost' && l['workerId'] === victim && run.lines.filter((x) => x.msg === 'worker lost' && x['workerId'] === victim).length > lostBefore);
          // with restarts left the coordinator kills the dropped worker itself (to restart it): then there is no one to wake
          try { process.kill(pid, 'SIGCONT'); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; }
        }
        await run.until(`${victim} back (too few --steps for the faults?)`, (l) => l.msg === 'workers re-joined' && run.count('workers re-joined') > rejoinedBefore);
      }
      recovered += 1;
    }
    const code = await run.exited;
    if (code !== 0) throw new Error(`bench chaos: the faulty run exited ${code}: ${run.lines.filter((l) => (l['level'] as number) >= 50).map((l) => l['err'] ?? l.msg).join('; ')}`);
    const got = JSON.parse(run.stdout) as { checkpoint: string; steps: number; final_world_size: number; examples: { examples_applied: number; examples_lost: number; examples_repeated: number } };
    const clean = new Run([...common, '--run-dir', path.join(dir, 'clean')], () => undefined, path.join(dir, 'clean.log'));
    if ((await clean.exited) !== 0) throw new Error('bench chaos: the fault-free run failed');
    const want = JSON.parse(clean.stdout) as { checkpoint: string };
    const result: ChaosResult = {
      kills, recovered, coordinator_restarts: restarts, sigstops: stops, ...got.examples, max_stall_ms: maxStall, stall_after_ms: stallAfter,
      final_weights_rel_l2: await relL2(got.checkpoint, want.checkpoint), steps: got.steps, final_world_size: got.final_world_size, seconds: (performance.now() - t0) / 1000,
    };
    rmSync(dir, { recursive: true, force: true });
    return result;
  } catch (e) {
    throw new Error(`${(e as Error).message}; the runs' logs and folders are kept in ${dir}`, { cause: e });
  }
}

/** ||a - b|| / ||b|| over the two checkpoints' parameters. */
async function relL2(a: string, b: string): Promise<number> {
  const [x, y] = [(await loadTrainingCheckpoint(a)).state.params, (await loadTrainingCheckpoint(b)).state.params];
  if (x.length !== y.length) throw new Error(`bench chaos: the checkpoints hold ${x.length} and ${y.length} parameters`);
  let d = 0, n = 0;
  for (let i = 0; i < x.length; i++) { const e = (x[i] as number) - (y[i] as number); d += e * e; n += (y[i] as number) ** 2; }
  return Math.sqrt(d / n);
}
