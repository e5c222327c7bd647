/**
 * `coordinator start`: the coordinator process. It resolves data and model, serves the
 * Coordinator gRPC service, starts N local worker processes (or waits for remote ones), drives the
 * steps in lockstep, writes checkpoints from rank 0's state, evaluates, and summarises.
 *
 * One run, in order (Coordinator.run): join (every worker; the ring forms as the last one joins) ->
 * per step: masks due, start, wait (every rank's report; Membership checks their parameter
 * checksums), checkpoint, eval (--eval-every) -> finish (last checkpoint, Stop) -> final eval, summary.
 */
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import { CheckpointWriteError, ConfigError } from '../../shared/runtime/errors.js';
import type { Logger } from '../../shared/runtime/log.js';
import { initBackend, type BackendInfo } from '../../shared/runtime/backend.js';
import { loadProtos } from '../../shared/runtime/proto_load.js';
import { loadT5Tokenizer, type T5Tokenizer } from '../../shared/dataset/tokenizer.js';
import type { PreparedDataset } from '../../shared/dataset/reader.js';
import { encodeRunPlan, modelConfigHash, type RunPlan } from '../../shared/training/cluster_plan.js';
import { setUpTraining, type TrainingSetup } from '../../shared/training/setup.js';
import { decoderOutput, trainingData } from '../../shared/training/training_data.js';
import { isMaskStep, sparsityReport, type PruningSchedule } from '../../shared/training/pruning.js';
import { resolveDataset, resolveRunDir } from '../run_inputs.js';
import { CoordinatorTelemetry } from '../telemetry/coordinator_telemetry.js';
import { MonitorServer } from '../telemetry/monitor_server.js';
import { runSettings } from '../telemetry/run_view.js';
import { TimelineWriter } from '../telemetry/timeline.js';
import { evaluateRun } from './evaluate_run.js';
import { checkpointDir, checkpointWriteFailure, newestValidCheckpoint } from './checkpoints.js';
import { Membership } from './membership.js';
import { ClusterError, RingBroken } from './errors.js';
import { coordinatorHandlers } from './service.js';
import { UploadRegistry } from './uploads.js';
import { LocalWorkers, waitForExit } from './local_workers.js';
import { runSecurity } from './run_security.js';
import { awaitRestarted, growRing } from './grow_ring.js';
import { accountExamples, appliedStep, type AppliedStep } from './applied_steps.js';
import { natsAuth } from '../../shared/runtime/telemetry/nats_auth.js';
import { Health } from '../../shared/runtime/health.js';
import { listenGrpc, type GrpcListener } from '../../shared/runtime/grpc_listen.js';
import {
  broadcastMasks, clusterStateOf, evaluateDuringTraining, evaluationPoint, prunedLayout, pruningSchedule, takeCheckpoint, type ClusterState,
} from './rank0_state.js';
import { stepProgress, workerSummary, type ClusterSummary, type StepProgress } from './summary.js';

export type { ClusterSummary, WorkerSummary } from './summary.js';
export { WORKER_NODE_FLAGS } from './local_workers.js';
export { pruningSchedule } from './rank0_state.js';

export interface CoordinatorOptions {
  cfg: Config;
  log: Logger;
  /** Continue the run in cfg.run.dir from its newest valid checkpoint. @default false */
  resume?: boolean;
  /** Set by SIGINT/SIGTERM: finish the current step, checkpoint, stop the workers. @default never */
  stopRequested?: () => boolean;
  /** Where the local workers' stderr lines go (a terminal's console); absent: they write stderr themselves. */
  childLine?: (line: string, component: string) => void;
  /** Every step's progress (a terminal's bar), where the log has it every train.logEvery steps. */
  onStep?: (p: StepProgress) => void;
  /**
   * The process's grpc.health.v1 statuses (runCluster binds their plaintext port first); absent: on the
   * gRPC server only. Ready while it accepts joins or trains: Kubernetes routes the Service to it only then.
   */
  health?: Health;
}

/** CoordinatorOptions with the defaults filled in (childLine and onStep stay optional: absent means none). */
type CoordinatorSettings = Required<Omit<CoordinatorOptions, 'childLine' | 'onStep'>> & Pick<CoordinatorOptions, 'childLine' | 'onStep'>;

/** runCluster's options (`coordinator start`, the technique benchmarks). */
export interface ClusterRunOptions {
  resume: boolean;
  stopRequested: () => boolean;
  childLine?: (line: string, component: string) => void;
  onStep?: (p: StepProgress) => void;
}

/** A worker silent for this many heartbeats (plus the ring timeout) is dropped. */
const LIVENESS_FACTOR = 10;
/** The gRPC service whose health status the coordinator reports by name (besides "" and "readiness"). */
const COORDINATOR_SERVICE = 'dsi.v1.Coordinator';
const WORKER_EXIT_TIMEOUT_MS = 30_000;

/** What start() resolves before anyone joins: data, model state, where the run writes. */
interface Inputs {
  backend: BackendInfo;
  tok: T5Tokenizer;
  data: PreparedDataset;
  runDir: string;
  resumeFrom: string;
  setup: TrainingSetup;
  resumed: ClusterState | undefined;
}

export class Coordinator {
  readonly runId: string;
  /** Steps every rank finished. */
  private step: number;
  private readonly startStep: number;
  private readonly losses: number[];
  private readonly schedule: PruningSchedule;
  private readonly pruning: Array<{ step: number; target: number; reached: number }> = [];
  private lastCheckpoint = '';
  /** The cluster state the last checkpoint stored (a joiner's loss scale). */
  private lastState: ClusterState | undefined;
  /** The example positions of every applied step (applied_steps.ts), carried over a resume. */
  private readonly applied: AppliedStep[];
  /** The run's plan (JoinReply.plan); a joiner's carries the checkpoint it starts from. */
  private plan!: RunPlan;   // set by start(), before any step
  private interrupted = false;
  private t0 = 0;
  private locals: LocalWorkers | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private released = false;
  private isClosed = false;
  private readonly closedWaiters: Array<(v: void | Error) => void> = [];

  private constructor(
    private readonly o: CoordinatorSettings, private readonly x: Inputs, private readonly telemetry: CoordinatorTelemetry,
    private readonly monitor: MonitorServer | undefined, private readonly timeline: { writer: TimelineWriter; file: string } | undefined,
    private readonly members: Membership, private readonly uploads: UploadRegistry, private readonly server: grpc.Server,
    private readonly listener: GrpcListener, readonly address: string,
  ) {
    this.runId = telemetry.runId;
    this.startStep = this.step = x.setup.state.step;
    this.losses = x.resumed?.losses ?? [];
    this.applied = x.resumed?.applied ?? [];
    this.schedule = pruningSchedule(o.cfg);
  }

  /** Resolves data and model, starts telemetry and the gRPC service, and the local workers (cluster.spawn). */
  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const o: CoordinatorSettings = { resume: false, stopRequested: () => false, ...options, health: options.health ?? new Health(COORDINATOR_SERVICE, options.log) };
    const { cfg, log } = o;
    const security = runSecurity(cfg, log);   // before anything slow: a refused start says so at once
    const x = await resolveInputs(o);
    const startStep = x.setup.state.step;
    const runId = x.resumed?.runId ?? randomUUID().slice(0, 8);
    const telemetry = await CoordinatorTelemetry.start(cfg.telemetry, runId, log, natsAuth(cfg.telemetry, cfg.security));
    const monitor = cfg.telemetry.metricsPort >= 0
      ? await MonitorServer.start({
        host: cfg.telemetry.metricsHost, port: cfg.telemetry.metricsPort, worldSize: cfg.cluster.workers, telemetry, log, startStep,
        settings: runSettings(cfg, { docids: x.data.manifest.docid_scheme, dataDir: x.data.dir, runDir: x.runDir }),
        ...(security.metricsToken ? { bearerToken: security.metricsToken } : {}),
      })
      : undefined;
    // a resumed run keeps the earlier timeline and starts one of its own
    const timelineFile = path.join(x.runDir, startStep > 0 ? `timeline-from-${startStep}.json` : 'timeline.json');
    const timeline = cfg.telemetry.timeline ? { writer: new TimelineWriter({ file: timelineFile, aggregator: telemetry.aggregator }), file: timelineFile } : undefined;
    const plan: RunPlan = { config: cfg, dataDir: x.data.dir, resumeFrom: x.resumeFrom, ...(x.resumed ? { lossScale: x.resumed.lossScale } : {}), natsUrl: telemetry.natsUrl };
    const members = new Membership({
      runId, worldSize: cfg.cluster.workers, minWorkers: cfg.cluster.minWorkers, microBatches: cfg.train.batchSize / cfg.train.accumulate,
      modelConfigHash: modelConfigHash(cfg), plan: encodeRunPlan(plan), startStep,
      heartbeatMs: cfg.cluster.heartbeatMs, livenessTimeoutMs: cfg.cluster.heartbeatMs * LIVENESS_FACTOR + cfg.cluster.ringTimeoutMs,
      wire: cfg.cluster.wire, chunkBytes: cfg.cluster.chunkBytes, ringTimeoutMs: cfg.cluster.ringTimeoutMs, maxStepMs: cfg.cluster.maxStepMs, log,
      ...(security.joinToken ? { joinToken: security.joinToken } : {}), maxStep: cfg.train.steps,
      onEvent: (e) => telemetry.event(e),
      onMetrics: (m, s, metrics) => telemetry.fromHeartbeat({ rank: m.rank, workerId: m.workerId, step: s, lossScale: m.lossScale }, metrics),
    });
    // per-step figures from NATS only for the worker that holds that rank now
    telemetry.aggregator.accept = (t) => t.step <= cfg.train.steps && members.ordered().some((m) => m.rank === t.rank && m.workerId === t.workerId);
    const uploads = new UploadRegistry({ tensorBytes: x.setup.trainLayout.total * 4 });
    const server = new grpc.Server();
    const handlers = coordinatorHandlers(members, uploads, log, { maxStep: cfg.train.steps, onRefused: (method, reason) => telemetry.refused(method, reason) });
    server.addService(loadProtos().grpc.dsi.v1.Coordinator.service, handlers);
    o.health.addTo(server);
    // a failed TLS handshake (another CA, no certificate) is refused like a bad call: logged and counted
    const listener = await listenGrpc(server, {
      host: cfg.cluster.host, port: cfg.cluster.port, ...(security.tls ? { tls: security.tls } : {}),
      onTlsFailure: (f) => {
        log.warn({ peer: f.peer, reason: f.reason, err: f.message }, 'TLS handshake refused');
        telemetry.refused('TLS', f.reason);
      },
    });
    const address = `${cfg.cluster.host}:${listener.port}`;
    log.info({ address, runId, workers: cfg.cluster.workers, spawn: cfg.cluster.spawn, runDir: x.runDir }, 'coordinator listening');
    telemetry.event({ type: 'run_started', worldSize: cfg.cluster.workers, startStep, steps: cfg.train.steps, natsUrl: telemetry.natsUrl });
    const c = new Coordinator(o, x, telemetry, monitor, timeline, members, uploads, server, listener, address);
    o.health.setReady(true, 'accepting joins');
    c.plan = plan;
    c.locals = cfg.cluster.spawn ? new LocalWorkers(cfg, path.join(x.runDir, 'config.json'), address, members, log, o.childLine) : undefined;
    c.liveness = setInterval(() => members.checkLiveness(), cfg.cluster.heartbeatMs);
    c.liveness.unref();
    return c;
  }

  /** The run: join, the steps in lockstep, finish; then the final evaluation and the summary. */
  async run(): Promise<ClusterSummary> {
    const { cfg, log } = this.o;
    this.t0 = performance.now();
    try {
      await this.members.ready(cfg.cluster.joinTimeoutMs);                          // 1) join; the ring forms
      log.info({ ring: this.members.ordered().map((m) => m.address) }, 'all workers joined');
      while (this.step < cfg.train.steps) {                                          // 2) the steps
        if (this.o.stopRequested()) { this.interrupted = true; break; }
        await this.trainStep();
      }
      await this.finish();                                                           // 3) last checkpoint, Stop
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      await this.release();
    }
    const summary = await this.summarise();                                         // 4) final eval, summary
    this.x.data.close();
    this.isClosed = true;
    for (const w of this.closedWaiters.splice(0)) w(undefined);
    return summary;
  }

  /** Ends the run's service, workers and telemetry (a running run() fails), and closes the data. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.uploads.failAll(new ClusterError('the coordinator was closed'));
    await this.release();
    this.x.data.close();
    this.isClosed = true;
    for (const w of this.closedWaiters.splice(0)) w(this.failure);
  }

  /** Resolves (never rejects) once closed: undefined after a finished run, else why it ended. */
  closed(): Promise<void | Error> {
    if (this.isClosed) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** One step in lockstep: every rank runs it, reports it, then the next starts (the all-reduce inside keeps them together). */
  private async trainStep(): Promise<void> {
    const { cfg, log } = this.o;
    const { members, telemetry } = this;
    await this.elastic(() => this.growBack());                                      // workers back: one ring of all
    if (isMaskStep(this.schedule, this.step)) {                                     // masks due at this step
      const step = this.step;
      // versions go on from the checkpoint's set, which the workers restored (an older version is ignored)
      const version = (this.x.setup.masks?.version ?? 0) + 1;
      const set = await this.elastic(() => broadcastMasks(this.runId, step, version, this.schedule, members, this.uploads, this.x.setup, log));
      this.pruning.push(set);
      telemetry.event({ type: 'masks_broadcast', version: this.pruning.length, ...set });
    }
    await this.elastic(async () => {
      members.startStep(this.step);                                                 // start
      await members.waitForStep(this.step + 1);                                     // wait; checksums checked as reports arrive
    });
    this.step += 1;
    const step = this.step;
    this.losses.push(members.ordered()[0]?.metrics?.loss ?? NaN);
    this.applied.push(appliedStep(step, members.ordered()));
    const logged = step % cfg.train.logEvery === 0 || step === cfg.train.steps;
    if (logged || this.o.onStep) {
      const progress = stepProgress(step, cfg.train.steps, members, this.t0, this.startStep);
      if (logged) log.info(progress, 'step');
      this.o.onStep?.(progress);
    }
    if (cfg.cluster.checkpointEvery > 0 && step % cfg.cluster.checkpointEvery === 0) await this.elastic(() => this.checkpoint());  // checkpoint
    if (cfg.eval.every > 0 && step % cfg.eval.every === 0 && step < cfg.train.steps) {   // eval (--eval-every)
      const seconds = (performance.now() - this.t0) / 1000;
      const point = await this.elastic(() => evaluateDuringTraining(this.runId, step, seconds, members, this.uploads, this.x.setup, cfg, this.x.data, this.x.tok, this.x.runDir, log));
      telemetry.aggregator.evaluations.push(point);
      telemetry.event({ type: 'evaluated', ...point });
    }
  }

  /** The last step's checkpoint (unless just written), then Stop to every worker. */
  private async finish(): Promise<void> {
    if (this.lastCheckpoint !== checkpointDir(this.x.runDir, this.step)) await this.elastic(() => this.checkpoint());
    this.members.closing = true;
    this.members.refuseJoiners('the run is finishing');
    const interrupted = this.interrupted;
    this.o.health.setReady(false, interrupted ? 'draining: interrupted' : 'run finished');
    this.members.broadcast({ stop: { reason: interrupted ? 'operator' : 'finished', graceful: true, cause: interrupted ? 'STOP_CAUSE_INTERRUPTED' : 'STOP_CAUSE_FINISHED' } });
    this.telemetry.event({ type: 'run_finished', steps: this.step, interrupted, lossLast: this.losses.at(-1) ?? NaN });
  }

  private async checkpoint(): Promise<void> {
    const { cfg, log } = this.o;
    try {
      const written = await takeCheckpoint(this.x.runDir, this.runId, this.step, this.members, this.uploads, this.x.setup, cfg, this.x.data.dir, this.losses, this.applied, log);
      this.lastCheckpoint = written.dir;
      this.lastState = written.state;
    } catch (e) {
      throw e instanceof CheckpointWriteError ? checkpointWriteFailure(e, this.x.runDir, this.step) : e;
    }
    this.telemetry.event({ type: 'checkpoint_written', step: this.step, dir: this.lastCheckpoint });
  }

  /**
   * A lost worker breaks the ring: the survivors regroup at `step` and what was interrupted runs again,
   * once the local workers that --max-restarts brings back have re-joined (cluster.restartWaitMs).
   */
  private async elastic<T>(what: () => Promise<T>): Promise<T> {
    let regrouped = false;
    for (;;) {
      try {
        if (regrouped) await this.growBack(this.locals ? await awaitRestarted(this.locals, this.members, this.o.cfg.cluster.restartWaitMs, this.o.log) : 0);
        return await what();
      } catch (e) {
        if (!(e instanceof RingBroken)) throw e;
        this.o.log.warn({ step: this.step + 1, reason: e.message }, 'ring broken: regrouping');
        const enough = await this.members.regroup(this.step);
        this.telemetry.aggregator.regrouped(this.members.members.size, this.step);
        if (!enough) await this.stopBelowMinimum();
        regrouped = true;
      }
    }
  }

  /** Workers held at Join (back from a loss, or replacements) enter the ring at this step boundary (grow_ring.ts). */
  private async growBack(waitedMs?: number): Promise<void> {
    const { cfg, log } = this.o;
    const joined = await growRing({
      members: this.members, step: this.step, plan: this.plan, timeoutMs: cfg.cluster.joinTimeoutMs, log, ...(waitedMs !== undefined ? { waitedMs } : {}),
      checkpoint: async () => { if (this.lastCheckpoint !== checkpointDir(this.x.runDir, this.step) || !this.lastState) await this.checkpoint(); return { dir: this.lastCheckpoint, state: this.lastState as ClusterState }; },
    });
    if (joined.length > 0) this.telemetry.aggregator.regrouped(this.members.members.size, this.step);
  }

  private async stopBelowMinimum(): Promise<never> {
    const { cfg, log } = this.o;
    const { members } = this;
    const lost = members.lost.map((l) => `${l.workerId} (rank ${l.rank}) at step ${l.step}: ${l.reason}`).join('; ');
    const error = new ClusterError(`${members.members.size} of ${cfg.cluster.workers} workers left, fewer than cluster.minWorkers ${cfg.cluster.minWorkers}; lost ${lost}`);
    // the survivors re-formed at `step` (a rank that had applied the interrupted step rolled it back): that state is consistent
    if (members.members.size > 0 && this.lastCheckpoint !== checkpointDir(this.x.runDir, this.step))
      await this.checkpoint().catch((e: Error) => log.error({ step: this.step, err: e.message }, 'could not checkpoint the last consistent step'));
    throw error;
  }

  private fail(e: Error): void {
    this.failure = e;
    this.o.health.setReady(false, `run failed: ${e.message}`);
    this.telemetry.event({ type: 'run_failed', step: this.step, error: e.message });
    this.uploads.failAll(e);
    this.members.closing = true;   // no restarts, no joins: the run is over
    this.members.refuseJoiners(e.message);
    // managed workers ignore SIGTERM/SIGINT (the coordinator decides when they stop): the run is over, end them now
    for (const c of this.locals?.children ?? []) c.kill('SIGKILL');
  }

  /** Waits for the workers to exit, then stops the service, /metrics and telemetry. */
  private async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.o.health.setReady(false, 'service closing');
    this.members.closing = true;
    this.members.refuseJoiners('the run is over');
    clearInterval(this.liveness);
    await waitForExit(this.locals?.children ?? [], WORKER_EXIT_TIMEOUT_MS);
    this.server.forceShutdown();
    await this.listener.close();
    await this.monitor?.close();
    await this.telemetry.close();
    this.timeline?.writer.close();   // after telemetry: the last held-back steps are in
  }

  /** The final evaluation (unless interrupted), then summary.json. */
  private async summarise(): Promise<ClusterSummary> {
    const { cfg, log } = this.o;
    const { backend, data, tok, runDir, setup } = this.x;
    const { members, telemetry, step, losses } = this;
    const trainSeconds = (performance.now() - this.t0) / 1000;
    const evalResult = this.interrupted ? undefined : await evaluateRun(cfg, setup, data, tok, runDir, log);
    if (evalResult) telemetry.aggregator.evaluations.push(evaluationPoint(step, trainSeconds, evalResult));
    const output = decoderOutput(cfg, data);
    const workers = members.ordered().map(workerSummary);
    const done = step - this.startStep;
    const summary: ClusterSummary = {
      run_dir: runDir, run_id: this.runId, data_dir: data.dir, backend: backend.name, ...(backend.device ? { device: backend.device } : {}),
      preset: cfg.model.from || cfg.model.preset, mode: cfg.train.mode, memory: setup.memory,
      parameters: setup.baseLayout.total, trainable_parameters: setup.trainLayout.total, world_size: cfg.cluster.workers,
      final_world_size: members.members.size,
      lost_workers: members.lost.map((l) => ({ worker_id: l.workerId, rank: l.rank, step: l.step, reason: l.reason, world_size: l.worldSize })),
      rejoined_workers: members.rejoined.map((r) => ({ worker_id: r.workerId, step: r.step, world_size: r.worldSize })), worker_restarts: this.locals?.restarts ?? 0,
      examples: accountExamples(this.applied, step, cfg.train.batchSize),
      wire: cfg.cluster.wire,
      start_step: this.startStep, steps: step, loss_first: losses[0] ?? NaN, loss_last: losses.at(-1) ?? NaN, losses,
      skipped_steps: losses.filter((l) => Number.isNaN(l)).length,
      samples_per_s: (done * cfg.train.batchSize) / trainSeconds, tokens_per_s: workers.reduce((n, w) => n + w.tokens_per_s, 0),
      ...(this.schedule.final > 0 ? { pruning: { schedule: this.schedule, masks: this.pruning, final: sparsityReport(prunedLayout(setup), setup.adapted ? setup.baseParams : setup.state.params) } } : {}),
      train_seconds: trainSeconds, interrupted: this.interrupted, ...(evalResult ? { eval: evalResult } : {}),
      ...(cfg.eval.every > 0 ? { eval_curve: telemetry.aggregator.evaluations } : {}),
      training_data: { mix: trainingData(cfg, data).mix, decoder_output: output ? 'docids' : 'vocab', output_rows: output?.ids.length ?? setup.model.vocabSize },
      checkpoint: this.lastCheckpoint, workers,
      telemetry: { ...telemetry.summary(), metrics_url: this.monitor?.url ?? '', timeline: this.timeline?.file ?? '' },
    };
    writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    return summary;
  }
}

/** Backend, tokenizer, dataset, run folder (with its config.json), and the model state to start from. */
async function resolveInputs(o: CoordinatorSettings): Promise<Inputs> {
  const { cfg, log } = o;
  const backend = await initBackend(cfg.runtime.backend, { webgpuApi: cfg.runtime.webgpuApi });
  log.info({ backend: backend.name, device: backend.device }, 'coordinator backend (checkpoints, evaluation)');
  const tok = await loadT5Tokenizer();
  const data = await resolveDataset(cfg, tok, log);
  const runDir = resolveRunDir(cfg);
  let resumeFrom = '';
  if (o.resume) {
    if (!cfg.run.dir) throw new ConfigError('run.dir', '--resume needs --run-dir DIR of the run to continue');
    const found = newestValidCheckpoint(runDir);
    if (!found) throw new ConfigError('run.dir', `--resume: no valid checkpoint under ${path.join(runDir, 'checkpoints')}`);
    for (const s of found.skipped) log.warn({ problem: s }, 'skipping an invalid checkpoint');
    resumeFrom = found.dir;
    log.info({ checkpoint: found.dir, step: found.step }, 'resuming');
  }
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const setup = await setUpTraining(cfg, data, resumeFrom || undefined);
  const resumed = resumeFrom ? clusterStateOf(setup) : undefined;
  const startStep = setup.state.step;
  if (startStep >= cfg.train.steps) throw new ConfigError('train.steps', `the run is already at step ${startStep}; give --steps larger than that to continue`);
  return { backend, tok, data, runDir, resumeFrom, setup, resumed };
}

/** Starts a coordinator, runs it to the end, and closes it. */
export async function runCluster(cfg: Config, log: Logger, o: ClusterRunOptions): Promise<ClusterSummary> {
  // the health port first: a probe gets NOT_SERVING, not a refused connection, while data and model load
  const health = new Health(COORDINATOR_SERVICE, log);
  await health.listen(cfg.cluster.host, cfg.cluster.healthPort);
  try {
    const coordinator = await Coordinator.start({ cfg, log, health, ...o });
    try {
      return await coordinator.run();
    } finally {
      await coordinator.close();
    }
  } finally {
    health.close('coordinator exiting');
  }
}
