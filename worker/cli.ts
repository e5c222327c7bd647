#!/usr/bin/env -S node --single-threaded-gc
/**
 * `worker --coordinator HOST:PORT`: one worker process. `coordinator start` starts these itself;
 * on other hosts (or as Kubernetes pods) start them by hand with the run's --preset/--mode.
 */
import os from 'node:os';
import { describeConfig, flagValue, hasFlag, loadConfig, type Config } from '../shared/runtime/config.js';
import { ConfigError } from '../shared/runtime/errors.js';
import { openConsole, type Logger } from '../shared/runtime/log.js';
import { Health } from '../shared/runtime/health.js';
import {
  runWorkerProcess, COLLECTIVE_SERVICE, COORDINATOR_LOST_EXIT_CODE, CoordinatorLostError, CoordinatorUnreachableError, JoinRefusedError, type WorkerStop,
} from './worker_process.js';

async function main(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write(`usage: worker --coordinator HOST:PORT [--worker-id ID] [--worker-host IP] [--advertise-host HOST] [--preset P] [--mode M]\n\n${describeConfig()}\n`);
    return 0;
  }
  const cfg = loadConfig({ args });
  if (!cfg.cluster.coordinator) throw new ConfigError('cluster.coordinator', 'give the coordinator to join: worker --coordinator HOST:PORT (or DSI_COORDINATOR)');
  // started by `coordinator start`: Ctrl-C reaches the whole process group, but the coordinator
  // decides when workers stop (after the current step and a checkpoint)
  if (hasFlag(args, 'managed')) {
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => undefined);
  }
  // readable lines when started by hand on a terminal; `coordinator start` gives --log-format json when it reads them
  const { log } = openConsole({ level: cfg.runtime.logLevel, format: cfg.runtime.logFormat });
  // the health port lives as long as the process: NOT_SERVING until joined and in a ring, across re-joins
  const health = new Health(COLLECTIVE_SERVICE, log);
  await health.listen(cfg.cluster.workerHost, cfg.cluster.healthPort);
  let stop: WorkerStop | number;
  try {
    stop = await runUntilStopped(args, cfg, log, health);
  } finally {
    health.close('worker exiting');
  }
  if (typeof stop === 'number') return stop;
  switch (stop.cause) {
    case 'STOP_CAUSE_FINISHED':
      return 0;
    // dropped or released mid-run: the survivors finish it, this worker is done rather than failed
    case 'STOP_CAUSE_DROPPED':
    case 'STOP_CAUSE_RELEASED':
      log.warn({ reason: stop.reason }, 'the run goes on without this worker: exiting 0');
      return 0;
    // stopped before the run's end (the coordinator was interrupted), or the stream ended without a
    // Stop: not done, so a Job with --interrupted-exit-code starts this worker again for the resumed run
    default:
      return cfg.run.interruptedExitCode;
  }
}

/**
 * Runs the worker; when its coordinator is lost, a worker started by hand joins again (a coordinator
 * restarted at the same address with --resume=auto continues the run), for up to
 * cluster.coordinatorTimeoutMs; else the exit code (0: not needed; COORDINATOR_LOST_EXIT_CODE).
 */
async function runUntilStopped(args: string[], cfg: Config, log: Logger, health: Health): Promise<WorkerStop | number> {
  const managed = hasFlag(args, 'managed');
  const workerId = flagValue(args, 'worker-id') ?? `${os.hostname()}-${process.pid}`;
  let rejoining = false;
  let rejoinsLeft = cfg.cluster.maxRestarts;
  for (;;) {
    try {
      const stop = await runWorkerProcess({
        coordinator: cfg.cluster.coordinator, workerId, bindHost: cfg.cluster.workerHost, advertiseHost: cfg.cluster.advertiseHost, local: cfg,
        joinTimeoutMs: rejoining ? cfg.cluster.coordinatorTimeoutMs : cfg.cluster.joinTimeoutMs, log, health,
      });
      // dropped mid-run (its link went down, it was stopped too long): a worker started by hand joins
      // the run again at a step boundary, as torchrun's agent restarts its workers (--max-restarts);
      // one started by coordinator start is restarted by the coordinator instead (local_workers.ts)
      if (stop.cause !== 'STOP_CAUSE_DROPPED' || managed || rejoinsLeft === 0) return stop;
      rejoinsLeft -= 1;
      log.warn({ reason: stop.reason, rejoinsLeft }, 'dropped from the run: joining it again');
      rejoining = true;
    } catch (e) {
      if (e instanceof CoordinatorLostError && !managed) {
        log.warn({ coordinator: e.address, step: e.step, reason: e.message, waitMs: cfg.cluster.coordinatorTimeoutMs }, 'coordinator lost: joining again when it is back');
        rejoining = true;
        continue;
      }
      // started by coordinator start: a restarted coordinator starts workers of its own
      if (e instanceof CoordinatorLostError || (rejoining && e instanceof CoordinatorUnreachableError)) {
        log.error({ coordinator: cfg.cluster.coordinator, reason: e.message, exitCode: COORDINATOR_LOST_EXIT_CODE }, `coordinator lost: exiting ${COORDINATOR_LOST_EXIT_CODE}`);
        process.stderr.write(`worker: ${e.message}; exiting ${COORDINATOR_LOST_EXIT_CODE} (coordinator lost)\n`);
        return COORDINATOR_LOST_EXIT_CODE;
      }
      if (!(e instanceof JoinRefusedError)) throw e;
      switch (e.refusal) {
        // a restarted pod of a worker the run dropped (or a latecomer): the run does not need it
        case 'JOIN_REFUSAL_DROPPED':
        case 'JOIN_REFUSAL_RUN_UNDER_WAY':
          log.warn({ reason: e.message }, 'not needed by the run: exiting 0');
          return 0;
        default:
          throw e;
      }
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // a call to the lost coordinator may still be pending (an upload without deadline): do not wait for it
    if (code === COORDINATOR_LOST_EXIT_CODE) process.exit();
  },
  (e: unknown) => {
    process.stderr.write(`worker: ${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  },
);
