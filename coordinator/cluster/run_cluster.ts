/**
 * `coordinator start`: the coordinator process. It resolves data and model, serves the
 * Coordinator gRPC service, starts N local worker processes (or waits for remote ones), drives the
 * steps in lockstep, writes checkpoints from rank 0's state, evaluates, and summarises.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import type { Logger } from '../../shared/runtime/log.js';
import { initBackend } from '../../shared/runtime/backend.js';
import type { GpuAdapterReport } from '../../shared/runtime/webgpu.js';
import type { MemoryFigures } from '../../shared/model/peft.js';
import { loadProtos } from '../../shared/runtime/proto_load.js';
import { loadT5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { REPO_ROOT } from '../../shared/runtime/paths.js';
import { encodeRunPlan, modelConfigHash, type RunPlan } from '../../shared/training/cluster_plan.js';
import { setUpTraining, writeCheckpoint, type TrainingSetup } from '../../shared/training/setup.js';
import type { ParamLayout } from '../../shared/model/params.js';
import { resolveDataset, resolveRunDir } from '../run_inputs.js';
import { evaluateRun, type EvalSummary } from './evaluate_run.js';
import { checkpointDir, newestValidCheckpoint, pruneCheckpoints } from './checkpoints.js';
import { ClusterError, Membership, RingBroken, type Member } from './membership.js';
import { coordinatorHandlers } from './service.js';
import { UploadRegistry, type UploadedState } from './uploads.js';
import { CoordinatorTelemetry, type TelemetrySummary } from '../telemetry/coordinator_telemetry.js';
import { MonitorServer } from '../telemetry/monitor_server.js';
import { TimelineWriter } from '../telemetry/timeline.js';
import type { EvaluationPoint } from '../telemetry/aggregator.js';
import type { PreparedDataset } from '../../shared/dataset/reader.js';
import type { T5Tokenizer } from '../../shared/dataset/tokenizer.js';
import { decoderOutput, trainingData } from '../../shared/training/training_data.js';
import { isMaskStep, magnitudeMasks, sparsityReport, targetSparsity, type PruningSchedule } from '../../shared/training/pruning.js';
import { applyMasks } from '../../shared/model/pruning_masks.js';

export interface WorkerSummary {
  rank: number;
  worker_id: string;
  backend: string;
  samples_per_s: number;
  tokens_per_s: number;
  compute_share: number;
  all_reduce_share: number;
  waiting_share: number;
  step_ms: number;
  peak_rss_bytes: number;
  peak_tensor_bytes: number;
}

export interface ClusterSummary {
  run_dir: string;
  run_id: string;
  data_dir: string;
  backend: string;
  /** The WebGPU adapter (name, api, software or hardware) when the backend is webgpu. */
  device?: GpuAdapterReport;
  preset: string;
  mode: string;
  memory: MemoryFigures;
  parameters: number;
  trainable_parameters: number;
  world_size: number;
  /** Workers at the end: world_size less those lost mid-run (lost_workers). */
  final_world_size: number;
  /** Workers dropped mid-run, each with the step it was lost in and the workers left after it. */
  lost_workers: Array<{ worker_id: string; rank: number; step: number; reason: string; world_size: number }>;
  wire: string;
  start_step: number;
  steps: number;
  loss_first: number;
  loss_last: number;
  losses: number[];
  skipped_steps: number;
  samples_per_s: number;
  tokens_per_s: number;
  train_seconds: number;
  interrupted: boolean;
  eval?: EvalSummary;
  /** --eval-every: retrieval on a subset of the split during training (the final `eval` is on all of it). */
  eval_curve?: EvaluationPoint[];
  /** What the run trained on: the sampler's mix (shared/training/sampler.ts) and the decoder's output rows. */
  training_data: { mix: string; decoder_output: 'docids' | 'vocab'; output_rows: number };
  checkpoint: string;
  workers: WorkerSummary[];
  /** Where per-step metrics and run events went (NATS, a local nats-server, or the gRPC heartbeats only). */
  telemetry: TelemetrySummary;
  /** Dynamic pruning: the schedule, each mask set (target and reached sparsity), the final sparsity per layer. */
  pruning?: { schedule: PruningSchedule; masks: Array<{ step: number; target: number; reached: number }>; final: { overall: number; perLayer: Record<string, number> } };
}

/** The run's pruning schedule; endStep 0 means 3/4 of the run. */
export function pruningSchedule(cfg: Config): PruningSchedule {
  const p = cfg.prune;
  return { initial: p.initial, final: p.final, beginStep: p.beginStep, endStep: p.endStep || Math.floor((cfg.train.steps * 3) / 4), every: p.every, scope: p.scope };
}

export interface ClusterRunOptions {
  resume: boolean;
  /** Set by SIGINT/SIGTERM: finish the current step, checkpoint, stop the workers. */
  stopRequested: () => boolean;
}

const LIVENESS_FACTOR = 10;
const WORKER_EXIT_TIMEOUT_MS = 30_000;

export async function runCluster(cfg: Config, log: Logger, o: ClusterRunOptions): Promise<ClusterSummary> {
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
  const setup = await setUpTraining(cfg, data.manifest.model_vocab_size, resumeFrom || undefined);
  const resumedCluster = resumeFrom ? clusterStateOf(setup) : undefined;
  const startStep = setup.state.step;
  if (startStep >= cfg.train.steps) throw new ConfigError('train.steps', `the run is already at step ${startStep}; give --steps larger than that to continue`);
  const losses: number[] = resumedCluster?.losses ?? [];

  const runId = resumedCluster?.runId ?? randomUUID().slice(0, 8);
  const telemetry = await CoordinatorTelemetry.start(cfg.telemetry, runId, log);
  const monitor = cfg.telemetry.metricsPort >= 0
    ? await MonitorServer.start({ host: cfg.telemetry.metricsHost, port: cfg.telemetry.metricsPort, worldSize: cfg.cluster.workers, telemetry, log })
    : undefined;
  // a resumed run keeps the earlier timeline and starts one of its own
  const timelineFile = path.join(runDir, startStep > 0 ? `timeline-from-${startStep}.json` : 'timeline.json');
  const timeline = cfg.telemetry.timeline ? new TimelineWriter({ file: timelineFile, aggregator: telemetry.aggregator }) : undefined;
  const plan: RunPlan = { config: cfg, dataDir: data.dir, resumeFrom, ...(resumedCluster ? { lossScale: resumedCluster.lossScale } : {}), natsUrl: telemetry.natsUrl };
  const members = new Membership({
    runId, worldSize: cfg.cluster.workers, minWorkers: cfg.cluster.minWorkers, microBatches: cfg.train.batchSize / cfg.train.accumulate,
    modelConfigHash: modelConfigHash(cfg), plan: encodeRunPlan(plan), startStep,
    heartbeatMs: cfg.cluster.heartbeatMs, livenessTimeoutMs: cfg.cluster.heartbeatMs * LIVENESS_FACTOR + cfg.cluster.ringTimeoutMs,
    wire: cfg.cluster.wire, chunkBytes: cfg.cluster.chunkBytes, ringTimeoutMs: cfg.cluster.ringTimeoutMs, log,
    onEvent: (e) => telemetry.event(e),
    onMetrics: (m, s, x) => telemetry.fromHeartbeat({ rank: m.rank, workerId: m.workerId, step: s, lossScale: m.lossScale }, x),
  });
  const uploads = new UploadRegistry();
  const protos = loadProtos();
  const server = new grpc.Server();
  server.addService(protos.grpc.dsi.v1.Coordinator.service, coordinatorHandlers(members, uploads, log));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${cfg.cluster.host}:${cfg.cluster.port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const address = `${cfg.cluster.host}:${port}`;
  log.info({ address, runId, workers: cfg.cluster.workers, spawn: cfg.cluster.spawn }, 'coordinator listening');
  telemetry.event({ type: 'run_started', worldSize: cfg.cluster.workers, startStep, steps: cfg.train.steps, natsUrl: telemetry.natsUrl });

  const children = cfg.cluster.spawn ? spawnLocalWorkers(cfg, path.join(runDir, 'config.json'), address, members, log) : [];
  const liveness = setInterval(() => members.checkLiveness(), cfg.cluster.heartbeatMs);
  liveness.unref();
  let lastCheckpoint = '';
  let interrupted = false;
  const schedule = pruningSchedule(cfg);
  const pruning: Array<{ step: number; target: number; reached: number }> = [];
  const t0 = performance.now();
  let step = startStep;
  try {
    await members.ready(cfg.cluster.joinTimeoutMs);
    log.info({ ring: members.ordered().map((m) => m.address) }, 'all workers joined');
    const checkpoint = async (): Promise<void> => {
      lastCheckpoint = await takeCheckpoint(runDir, runId, step, members, uploads, setup, cfg, data.dir, losses, log);
      telemetry.event({ type: 'checkpoint_written', step, dir: lastCheckpoint });
    };
    // a lost worker breaks the ring: the survivors regroup at `step` and what was interrupted runs again
    const elastic = async <T>(what: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await what();
        } catch (e) {
          if (!(e instanceof RingBroken)) throw e;
          log.warn({ step: step + 1, reason: e.message }, 'ring broken: regrouping');
          const enough = await members.regroup(step);
          telemetry.aggregator.regrouped(members.members.size, step);
          if (!enough) await stopBelowMinimum();
        }
      }
    };
    const stopBelowMinimum = async (): Promise<never> => {
      const lost = members.lost.map((l) => `${l.workerId} (rank ${l.rank}) at step ${l.step}: ${l.reason}`).join('; ');
      const error = new ClusterError(`${members.members.size} of ${cfg.cluster.workers} workers left, fewer than cluster.minWorkers ${cfg.cluster.minWorkers}; lost ${lost}`);
      // the survivors re-formed at `step` (a rank that had applied the interrupted step rolled it back): that state is consistent
      if (members.members.size > 0 && lastCheckpoint !== checkpointDir(runDir, step))
        await checkpoint().catch((e: Error) => log.error({ step, err: e.message }, 'could not checkpoint the last consistent step'));
      throw error;
    };
    // lockstep: every rank runs step s, reports it, then s+1 starts; the all-reduce inside keeps them together
    while (step < cfg.train.steps) {
      if (o.stopRequested()) { interrupted = true; break; }
      if (isMaskStep(schedule, step)) {
        const set = await elastic(() => broadcastMasks(runId, step, pruning.length + 1, schedule, members, uploads, setup, log));
        pruning.push(set);
        telemetry.event({ type: 'masks_broadcast', version: pruning.length, ...set });
      }
      await elastic(async () => {
        members.startStep(step);
        await members.waitForStep(step + 1);
      });
      step += 1;
      const rank0 = members.ordered()[0];
      losses.push(rank0?.metrics?.loss ?? NaN);
      if (step % cfg.train.logEvery === 0 || step === cfg.train.steps) logProgress(log, step, cfg.train.steps, members, t0, startStep);
      if (cfg.cluster.checkpointEvery > 0 && step % cfg.cluster.checkpointEvery === 0) await elastic(checkpoint);
      if (cfg.eval.every > 0 && step % cfg.eval.every === 0 && step < cfg.train.steps) {
        const point = await elastic(() => evaluateDuringTraining(runId, step, (performance.now() - t0) / 1000, members, uploads, setup, cfg, data, tok, runDir, log));
        telemetry.aggregator.evaluations.push(point);
        telemetry.event({ type: 'evaluated', ...point });
      }
    }
    if (lastCheckpoint !== checkpointDir(runDir, step)) await elastic(checkpoint);
    members.closing = true;
    members.broadcast({ stop: { reason: interrupted ? 'operator' : 'finished', graceful: true, cause: interrupted ? 'STOP_CAUSE_INTERRUPTED' : 'STOP_CAUSE_FINISHED' } });
    telemetry.event({ type: 'run_finished', steps: step, interrupted, lossLast: losses.at(-1) ?? NaN });
  } catch (e) {
    telemetry.event({ type: 'run_failed', step, error: (e as Error).message });
    uploads.failAll(e as Error);
    // managed workers ignore SIGTERM/SIGINT (the coordinator decides when they stop): the run is over, end them now
    for (const c of children) c.kill('SIGKILL');
    throw e;
  } finally {
    clearInterval(liveness);
    await waitForExit(children, WORKER_EXIT_TIMEOUT_MS);
    server.forceShutdown();
    await monitor?.close();
    await telemetry.close();
    timeline?.close();   // after telemetry: the last held-back steps are in
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  const evalResult = interrupted ? undefined : await evaluateRun(cfg, setup, data, tok, runDir, log);
  if (evalResult) telemetry.aggregator.evaluations.push(evaluationPoint(step, trainSeconds, evalResult));
  const output = decoderOutput(cfg, data);
  data.close();
  const workers = members.ordered().map(workerSummary);
  const done = step - startStep;
  const summary: ClusterSummary = {
    run_dir: runDir, run_id: runId, data_dir: data.dir, backend: backend.name, ...(backend.device ? { device: backend.device } : {}),
    preset: cfg.model.from || cfg.model.preset, mode: cfg.train.mode, memory: setup.memory,
    parameters: setup.baseLayout.total, trainable_parameters: setup.trainLayout.total, world_size: cfg.cluster.workers,
    final_world_size: members.members.size,
    lost_workers: members.lost.map((l) => ({ worker_id: l.workerId, rank: l.rank, step: l.step, reason: l.reason, world_size: l.worldSize })),
    wire: cfg.cluster.wire,
    start_step: startStep, steps: step, loss_first: losses[0] ?? NaN, loss_last: losses.at(-1) ?? NaN, losses,
    skipped_steps: losses.filter((l) => Number.isNaN(l)).length,
    samples_per_s: (done * cfg.train.batchSize) / trainSeconds, tokens_per_s: workers.reduce((n, w) => n + w.tokens_per_s, 0),
    ...(schedule.final > 0 ? { pruning: { schedule, masks: pruning, final: sparsityReport(prunedLayout(setup), setup.adapted ? setup.baseParams : setup.state.params) } } : {}),
    train_seconds: trainSeconds, interrupted, ...(evalResult ? { eval: evalResult } : {}),
    ...(cfg.eval.every > 0 ? { eval_curve: telemetry.aggregator.evaluations } : {}),
    training_data: { mix: trainingData(cfg, data).mix, decoder_output: output ? 'docids' : 'vocab', output_rows: output?.ids.length ?? setup.model.vocabSize },
    checkpoint: lastCheckpoint, workers,
    telemetry: { ...telemetry.summary(), metrics_url: monitor?.url ?? '', timeline: timeline ? timelineFile : '' },
  };
  writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/**
 * V8 flags of a worker process. --single-threaded-gc: V8's parallel and concurrent GC threads took a
 * training process to ~125% of a core (bench model, t5-tiny, wasm), so two workers on two cores each
 * ran a step ~1.4x slower than one alone (450 -> 620-650 ms); with the collector on the main thread,
 * ~105% of a core and 470-500 ms side by side, the same 445 ms alone. Must be given at start: V8
 * refuses it at run time. worker/cli.ts's first line gives it to `worker` started by hand.
 */
export const WORKER_NODE_FLAGS = ['--single-threaded-gc'];

/** Starts `worker` processes on this machine, each its own OS process with its own gRPC server. */
function spawnLocalWorkers(cfg: Config, configFile: string, coordinator: string, members: Membership, log: Logger): ChildProcess[] {
  const cli = path.join(REPO_ROOT, 'dist', 'worker', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'npm run build'`);
  return Array.from({ length: cfg.cluster.workers }, (_, i) => {
    const workerId = `local-${String(i).padStart(3, '0')}`;
    // the run's own resolved config file: local workers build exactly the coordinator's model
    const args = [cli, '--config', configFile, '--coordinator', coordinator, '--worker-id', workerId, '--managed'];
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => {
      if (code === 0) return;
      members.exited(workerId, `process ${child.pid} exited with ${signal ?? `code ${code}`}`);
    });
    log.info({ workerId, pid: child.pid }, 'worker process started');
    return child;
  });
}

function waitForExit(children: ChildProcess[], timeoutMs: number): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, timeoutMs);
    c.on('exit', () => { clearTimeout(t); resolve(); });
  }))).then(() => undefined);
}

interface ClusterState { runId: string; lossScale: number; losses: number[] }

/** What the coordinator stored about the cluster inside the checkpoint's run config. */
function clusterStateOf(setup: TrainingSetup): ClusterState | undefined {
  const rc = setup.resumedRunConfig;
  return rc && typeof rc === 'object' && 'cluster_state' in rc ? (rc as { cluster_state: ClusterState }).cluster_state : undefined;
}

/** Rank 0's trainable state after its last step (replicas are identical, so one upload is enough). */
async function fetchRank0State(runId: string, step: number, members: Membership, uploads: UploadRegistry, n: number, includeOptimizer: boolean, purpose: string): Promise<UploadedState> {
  const rank0 = members.ordered()[0] as Member;
  const checkpointId = `${runId}-${purpose}-${step}`;
  const arriving = uploads.expect(checkpointId);
  members.send(rank0, { checkpoint: { checkpointId, step, includeWeights: true, includeOptimizer } });
  const state = await members.guard(arriving);
  const sizes = ['params', ...(includeOptimizer ? ['adamw.exp_avg', 'adamw.exp_avg_sq'] : [])].map((k) => state.tensors.get(k)?.length);
  if (sizes.some((x) => x !== n)) throw new ClusterError(`rank 0 uploaded state of the wrong size for step ${step}: ${sizes.join(', ')} values, expected ${n}`);
  return state;
}

async function takeCheckpoint(
  runDir: string, runId: string, step: number, members: Membership, uploads: UploadRegistry, setup: TrainingSetup,
  cfg: Config, dataDir: string, losses: number[], log: Logger,
): Promise<string> {
  const state = await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, true, 'checkpoint');
  const worker = state.worker as { adamT: number; lossScale: { scale: number } };
  setup.state.step = step;
  setup.state.params = state.tensors.get('params') as Float32Array;   // sizes checked by fetchRank0State
  setup.state.opt = { t: worker.adamT, m: state.tensors.get('adamw.exp_avg') as Float32Array, v: state.tensors.get('adamw.exp_avg_sq') as Float32Array };
  const dir = checkpointDir(runDir, step);
  mkdirSync(path.dirname(dir), { recursive: true });
  const clusterState: ClusterState = { runId, lossScale: worker.lossScale.scale, losses: [...losses] };
  await writeCheckpoint(dir, setup, { runConfig: { ...cfg, cluster_state: clusterState, world_size: members.members.size }, dataDir, losses });
  const removed = pruneCheckpoints(runDir, cfg.cluster.keepCheckpoints);
  log.info({ checkpoint: dir, step, bytes: state.bytes, removed }, 'checkpoint written');
  return dir;
}

function evaluationPoint(step: number, seconds: number, r: EvalSummary): EvaluationPoint {
  return { step, seconds, queries: r.queries, hitsAt1: r.hits_at_1, hitsAt10: r.hits_at_10, mrrAt10: r.mrr_at_10 };
}

/** --eval-every: rank 0's weights after `step`, evaluated on the first eval.everyQueries queries (the workers wait). */
async function evaluateDuringTraining(
  runId: string, step: number, seconds: number, members: Membership, uploads: UploadRegistry, setup: TrainingSetup,
  cfg: Config, data: PreparedDataset, tok: T5Tokenizer, runDir: string, log: Logger,
): Promise<EvaluationPoint> {
  const state = await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, false, 'eval');
  setup.state.params = state.tensors.get('params') as Float32Array;   // sizes checked by fetchRank0State
  const r = await evaluateRun({ ...cfg, eval: { ...cfg.eval, maxQueries: cfg.eval.everyQueries } }, setup, data, tok, runDir, log, `step-${step}`);
  const point = evaluationPoint(step, seconds, r);
  log.info({ ...point }, 'evaluated');
  return point;
}

/** What pruning applies to: the trained weights (full), or the frozen base (lora/qlora). */
function prunedLayout(setup: TrainingSetup): ParamLayout {
  return setup.adapted ? setup.baseLayout : setup.trainLayout;
}

/** Mask bits per message: well under gRPC's 4 MiB. */
const MASK_CHUNK_BYTES = 1 << 20;

/** Computes magnitude masks from rank 0's weights and sends them to every worker, to apply at `step`. */
async function broadcastMasks(
  runId: string, step: number, version: number, schedule: PruningSchedule, members: Membership, uploads: UploadRegistry,
  setup: TrainingSetup, log: Logger,
): Promise<{ step: number; target: number; reached: number }> {
  // full: the trained weights, as rank 0 has them now; lora/qlora: the frozen base, which every process holds
  const layout = prunedLayout(setup);
  const params = setup.adapted ? setup.baseParams
    : (await fetchRank0State(runId, step, members, uploads, setup.trainLayout.total, false, 'prune')).tensors.get('params') as Float32Array;
  const target = targetSparsity(schedule, step);
  const masks = magnitudeMasks(layout, params, target, schedule.scope);
  const names = [...masks.keys()];
  names.forEach((name, ti) => {
    const bits = masks.get(name) as Uint8Array;
    const elements = layout.byName.get(name)?.size ?? 0;
    for (let off = 0; off < bits.length; off += MASK_CHUNK_BYTES) {
      const end = Math.min(bits.length, off + MASK_CHUNK_BYTES);
      members.broadcast({ pruningMask: {
        maskVersion: version, tensorName: name, tensorElements: elements, offset: off * 8, bits: Buffer.from(bits.subarray(off, end)),
        lastChunk: end === bits.length, lastTensor: end === bits.length && ti === names.length - 1, applyAtStep: step,
      } });
    }
  });
  if (setup.adapted) setup.adapted.pruneBase(setup.baseParams, masks);   // the checkpoints' base is the pruned one
  else applyMasks(layout, params, masks);
  const reached = sparsityReport(layout, params).overall;
  log.info({ step, version, target: round(target), reached: round(reached) }, 'pruning masks broadcast');
  return { step, target, reached };
}

function logProgress(log: Logger, step: number, steps: number, members: Membership, t0: number, startStep: number): void {
  const elapsed = (performance.now() - t0) / 1000;
  const per = members.ordered().map((m) => {
    const x = m.metrics;
    const total = x ? x.stepMs : 0;
    return {
      rank: m.rank, samplesPerSec: round(x?.samplesPerSec ?? 0), tokensPerSec: round(x?.tokensPerSec ?? 0),
      compute: share(x?.computeMs, total), allReduce: share(x?.allReduceMs, total), waiting: share(x?.waitingMs, total),
    };
  });
  const loss = members.ordered()[0]?.metrics?.loss ?? NaN;
  log.info({ step, steps, loss: round(loss), etaSec: Math.round((elapsed / (step - startStep)) * (steps - step)), workers: per }, 'step');
}

function workerSummary(m: Member): WorkerSummary {
  const t = m.totals, n = Math.max(1, t.steps);
  return {
    rank: m.rank, worker_id: m.workerId, backend: m.backend, samples_per_s: t.samplesPerSec / n, tokens_per_s: t.tokensPerSec / n,
    compute_share: t.stepMs ? t.computeMs / t.stepMs : 0, all_reduce_share: t.stepMs ? t.allReduceMs / t.stepMs : 0,
    waiting_share: t.stepMs ? t.waitingMs / t.stepMs : 0,
    step_ms: t.stepMs / n, peak_rss_bytes: t.peakRssBytes, peak_tensor_bytes: t.peakTensorBytes,
  };
}

function share(part: number | undefined, total: number): number {
  return total > 0 ? round((part ?? 0) / total) : 0;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
