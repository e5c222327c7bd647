/**
 * A worker: joins the coordinator, forms the ring it is told to, runs the steps it is told to with
 * its slice of each global batch, all-reduces gradients with its neighbours, reports metrics, and
 * uploads its state for checkpoints. It decides nothing (Horovod's split): the coordinator does.
 *
 * Its life, in order (Worker.run): start the compute thread -> join -> prepare (the plan's data,
 * model state, trainer: in the compute thread) -> form the ring -> obey the control stream until Stop
 * (StartSteps: masks due, step, report; a new ring; pruning masks; checkpoint uploads) -> leave.
 *
 * Two threads: forward, backward and AdamW run on a compute thread (compute/step_thread.ts), so
 * this one, with the gRPC server, the Control stream, heartbeats, the ring's sockets and telemetry,
 * answers during a step however long it takes. The state lives in shared memory both threads view.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Logger } from '../shared/runtime/log.js';
import type { Config } from '../shared/runtime/config.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { loadTls, optionalToken } from '../shared/runtime/security.js';
import { Health } from '../shared/runtime/health.js';
import { natsAuth } from '../shared/runtime/telemetry/nats_auth.js';
import type { TrainState } from '../shared/training/setup.js';
import type { JoinReply__Output } from '../proto/gen/dsi/v1/JoinReply.js';
import type { ControlMessage__Output } from '../proto/gen/dsi/v1/ControlMessage.js';
import type { RingFormation__Output } from '../proto/gen/dsi/v1/RingFormation.js';
import type { StartSteps__Output } from '../proto/gen/dsi/v1/StartSteps.js';
import type { CheckpointRequest__Output } from '../proto/gen/dsi/v1/CheckpointRequest.js';
import type { StopCause__Output } from '../proto/gen/dsi/v1/StopCause.js';
import type { WorkerMetrics } from '../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFailure } from '../proto/gen/dsi/v1/RingFailure.js';
import { CollectiveServer } from './collective/grpc_peer.js';
import { createPeer } from './collective/peers.js';
import { Ring } from './collective/ring.js';
import { RingClosedError, RingPeerError, RingProtocolError, RingTimeoutError } from './collective/errors.js';
import { wireFromDtype } from './collective/wire.js';
import { StepSnapshot } from '../shared/training/step_snapshot.js';
import type { StepStats } from '../shared/training/trainer.js';
import { LossScaler } from '../shared/training/loss_scaler.js';
import { GradientSync } from '../shared/training/gradient_sync.js';
import { NoRingError } from '../shared/runtime/errors.js';
import { sparsityReport } from '../shared/training/pruning.js';
import { applyMasks, type MaskSet } from '../shared/model/pruning_masks.js';
import { TelemetryConnection } from '../shared/runtime/telemetry/connection.js';
import { stepSubject } from '../shared/runtime/telemetry/payloads.js';
import { stepTelemetry, workerMetrics } from '../shared/training/step_record.js';
import { decodeRunPlan, modelConfigHash, PROTOCOL_VERSION } from '../shared/training/cluster_plan.js';
import { CoordinatorConnection } from './coordinator_client.js';
import { MaskReceiver } from './mask_receiver.js';
import { CoordinatorWatch } from './coordinator_watch.js';
import { StepThread } from './compute/step_thread.js';
import { memoryReport } from './compute/memory_report.js';
import type { SharedSetup } from './compute/protocol.js';
import type { StepProgress } from '../proto/gen/dsi/v1/StepProgress.js';

export { JoinRefusedError } from './coordinator_client.js';
export { COORDINATOR_LOST_EXIT_CODE, CoordinatorLostError, CoordinatorUnreachableError } from './coordinator_watch.js';

export interface WorkerOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  workerId: string;
  /** Interface the collective server binds, and the host others dial (advertise; empty: bindHost). */
  bindHost: string;
  advertiseHost: string;
  /** This process's own settings (backend, model preset): the model hash must match the run's. */
  local: Config;
  /** Give up joining after this long. */
  joinTimeoutMs: number;
  log: Logger;
  /** The process's health statuses (the CLI binds their plaintext port once, across re-joins); absent: this worker's own. */
  health?: Health;
}

/** The gRPC service whose health status a worker reports by name (besides "" and "readiness"). */
export const COLLECTIVE_SERVICE = 'dsi.v1.Collective';

/** How the run ended for this worker: the coordinator's Stop (UNSPECIFIED: the stream ended without one). */
export interface WorkerStop {
  cause: StopCause__Output;
  reason: string;
}

/** Heartbeat period when the coordinator names none. */
const DEFAULT_HEARTBEAT_MS = 1000;

/** A checksum of the parameters' bits (FNV-1a over 32-bit words): equal replicas give equal values. */
export function paramChecksum(params: Float32Array): string {
  const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ (words[i] as number), 0x01000193) >>> 0;
  return `${h.toString(16).padStart(8, '0')}:${params.length}`;
}

/** A joined worker's training: the run's plan resolved into model state (shared with the compute thread), trainer and gradient sync. */
interface Session {
  runId: string;
  cfg: Config;
  setup: SharedSetup;
  /** This thread's view of the trainable state: read and written only while the compute thread is idle. */
  state: TrainState;
  scaler: LossScaler;
  sync: GradientSync;
  trainer: StepThread;
  masks: MaskReceiver;
  snapshot: StepSnapshot;
}

const PHASES = { idle: 'STEP_PHASE_IDLE', compute: 'STEP_PHASE_COMPUTE', reduce: 'STEP_PHASE_REDUCE', optimizer: 'STEP_PHASE_OPTIMIZER' } as const;

export class Worker {
  private readonly log: Logger;
  private thread: StepThread | undefined;
  private session: Session | undefined;
  private memoryLogged = false;
  private telemetry: TelemetryConnection | undefined;
  private control: ClientReadableStream<unknown> | undefined;
  /** Time since the coordinator last answered (while obeying it). */
  private watch: CoordinatorWatch | undefined;
  private ring: Ring | undefined;
  private rank = 0;
  private worldSize = 1;
  private epoch = 0;
  /** Set while this worker's last all-reduce failed; every heartbeat carries it until a new ring forms. */
  private ringFailure: RingFailure | undefined;
  /** Share of zero prunable weights once masks apply; null before. */
  private sparsity: number | null = null;
  private failure: Error | undefined;
  private isClosed = false;
  private readonly closedWaiters: Array<(v: void | Error) => void> = [];

  private constructor(
    private readonly o: WorkerOptions, private readonly server: CollectiveServer,
    private readonly coordinator: CoordinatorConnection, private readonly address: string,
  ) {
    this.log = o.log.child({ component: 'worker', workerId: o.workerId });
  }

  /** Binds the collective server (cluster.workerPort, 0: any free one) and opens the coordinator's channel (token, TLS: security.*). */
  static async start(o: WorkerOptions): Promise<Worker> {
    const protos = loadProtos();
    const { cluster, security } = o.local;
    const tls = loadTls(security);
    const joinToken = optionalToken(security.joinTokenFile, 'security.joinTokenFile');
    const health = o.health ?? new Health(COLLECTIVE_SERVICE, o.log);
    const server = await CollectiveServer.start({
      host: o.bindHost, port: cluster.workerPort, tcpPort: cluster.ringPort, protos, log: o.log.child({ component: 'worker', workerId: o.workerId }), ...(tls ? { tls } : {}), health,
    });
    const port = server.address.split(':').pop() ?? '';
    const coordinator = new CoordinatorConnection(o.coordinator, protos, { ...(joinToken ? { joinToken } : {}), ...(tls ? { tls } : {}) });
    return new Worker({ ...o, health }, server, coordinator, `${o.advertiseHost || o.bindHost}:${port}`);
  }

  /** Runs the worker until the coordinator stops it. */
  async run(): Promise<WorkerStop> {
    try {
      // the compute thread and its backend first, so Join reports what this worker really runs (auto resolves there)
      const { runtime } = this.o.local;
      const { thread, backend } = await StepThread.start({ backend: runtime.backend, webgpuApi: runtime.webgpuApi, log: this.log });
      this.thread = thread;
      const reply = await this.coordinator.join({
        workerId: this.o.workerId, address: this.address, modelConfigHash: modelConfigHash(this.o.local), backend, protocolVersion: PROTOCOL_VERSION,
      }, this.o.joinTimeoutMs, this.log);                          // 1) join: rank, the first ring, the plan
      // heartbeats from now on: this thread stays free while the compute thread prepares and trains
      const timer = setInterval(() => void this.beat(reply), reply.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS);
      timer.unref();
      try {
        const s = this.session = await this.prepare(reply, backend, thread);   // 2) data, model state, trainer
        if (reply.ring) await this.formRing(s, reply.ring);          // 3) form the ring
        const stop = await this.obey(s);                             // 4) until Stop
        await this.coordinator.leave(s.runId, this.o.workerId);      // 5) leave
        return stop;
      } finally {
        clearInterval(timer);
      }
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  /** Releases the control stream, ring, telemetry, the compute thread, the coordinator's channel and the server. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.o.health?.setReady(false, 'worker closing');
    this.control?.cancel();
    await this.telemetry?.close();
    await this.ring?.close();
    await this.thread?.close();
    this.coordinator.close();
    await this.server.close();
    for (const w of this.closedWaiters.splice(0)) w(this.failure);
  }

  /** Resolves (never rejects) once closed: undefined after a run that ended with Stop, else its error. */
  closed(): Promise<void | Error> {
    if (this.isClosed) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** The run's plan (JoinReply.plan) resolved: data, model state at the run's step, trainer. */
  private async prepare(reply: JoinReply__Output, backend: string, trainer: StepThread): Promise<Session> {
    if (!reply.plan) throw new Error(`the coordinator at ${this.o.coordinator} sent no run plan in its JoinReply`);
    const plan = decodeRunPlan(reply.plan);
    const cfg = plan.config;
    this.rank = reply.rank;
    this.worldSize = reply.worldSize;
    this.log.info({ rank: reply.rank, worldSize: reply.worldSize, backend, step: reply.step, ringPort: this.server.tcp.port, nodeFlags: process.execArgv }, 'joined');
    // per-step metrics on NATS when the coordinator has a server (this worker's own --nats-url else)
    const local = this.o.local.telemetry;
    const natsUrl = plan.natsUrl || (local.nats ? local.natsUrl : '');
    // credentials are this process's own (--nats-creds-file...), never the plan's
    if (natsUrl) this.telemetry = new TelemetryConnection({ url: natsUrl, name: `dsi-worker-${this.o.workerId}`, log: this.log, auth: natsAuth(this.o.local.telemetry, this.o.local.security) });
    const setup = await trainer.prepare({ cfg, dataDir: plan.dataDir, resumeFrom: plan.resumeFrom, rank: this.rank, worldSize: this.worldSize });
    const state = trainer.state as TrainState;   // prepare set it
    if (state.step !== reply.step) throw new Error(`worker ${this.o.workerId}: state is at step ${state.step}, the coordinator starts at ${reply.step}`);
    // resumed: the checkpoint's scale (plan) and good-step count (its run config), as the uninterrupted run had them
    const scaler = LossScaler.initial(cfg.cluster.wire, plan.lossScale ?? cfg.cluster.lossScale, cfg.cluster.lossScaleWindow, setup.lossScaleGoodSteps);
    const masks = new MaskReceiver(setup.masks);   // a resumed run's masks hold from its first step
    // the all-reduce runs in place on the shared gradient buffer, bucket by bucket: no copy of the gradient
    const sync = new GradientSync({ size: setup.trainLayout.total, scaler, masks, maskLayout: setup.adapted ? undefined : setup.trainLayout, fused: setup.fused, buckets: setup.buckets });
    trainer.sync = sync;
    this.log.info({ mix: setup.mix, decoderOutputRows: setup.decoderOutputRows }, 'training data');
    return { runId: reply.runId, cfg, setup, state, scaler, sync, trainer, masks, snapshot: new StepSnapshot() };
  }

  /** The coordinator's commands, in order, until Stop; heartbeats keep this worker alive meanwhile. */
  private async obey(s: Session): Promise<WorkerStop> {
    const control = this.coordinator.control({ runId: s.runId, workerId: this.o.workerId, rank: this.rank });
    this.control = control;
    // a coordinator silent for coordinatorTimeoutMs ends the stream: the worker must not wait forever
    const watch = this.watch = new CoordinatorWatch({ address: this.o.coordinator, timeoutMs: this.o.local.cluster.coordinatorTimeoutMs, onLost: () => control.cancel() });
    try {
      for await (const raw of control) {
        watch.contact();
        const msg = raw as ControlMessage__Output;
        switch (msg.command) {
          case 'ring': if (msg.ring) await this.formRing(s, msg.ring); break;
          case 'start': if (msg.start) await this.runSteps(s, msg.start); break;
          case 'pruningMask': if (msg.pruningMask) s.masks.add(msg.pruningMask); break;
          case 'checkpoint': if (msg.checkpoint) await watch.guard(this.upload(s, msg.checkpoint), s.state.step); break;
          case 'stop': {
            const stop: WorkerStop = { cause: msg.stop?.cause ?? 'STOP_CAUSE_UNSPECIFIED', reason: msg.stop?.reason ?? '' };
            this.log.info({ reason: stop.reason, cause: stop.cause }, 'stop');
            this.o.health?.setReady(false, `stopped: ${stop.cause}`);
            await this.logMemory(s);
            return stop;
          }
        }
      }
      return { cause: 'STOP_CAUSE_UNSPECIFIED', reason: '' };
    } catch (e) {
      throw watch.explain(e, s.state.step);
    } finally {
      watch.close();
      control.cancel();
    }
  }

  /** A (new) ring: the old one closes; after a loss the state goes back to the ring's step. */
  private async formRing(s: Session, f: RingFormation__Output): Promise<void> {
    await this.ring?.close();
    // after a loss the ring restarts at the interrupted step: a rank that applied it goes back
    if (s.snapshot.rewind(s.state, s.scaler.state, f.step)) this.log.warn({ step: f.step + 1, epoch: f.ringEpoch }, 'rolled back the interrupted step to redo it');
    this.ringFailure = undefined;
    this.epoch = f.ringEpoch;
    this.rank = f.rank;
    this.worldSize = f.addresses.length;
    const { cfg } = s, log = this.log;
    const peer = createPeer(cfg.cluster.transport, { server: this.server, runId: f.runId, epoch: f.ringEpoch, rank: f.rank, addresses: f.addresses, ringSecret: f.ringSecret, log });
    this.ring = s.sync.ring = new Ring(peer, {
      runId: f.runId, epoch: f.ringEpoch, rank: f.rank, worldSize: this.worldSize, wire: wireFromDtype(f.wire) ?? 'fp32', chunkBytes: f.chunkBytes, timeoutMs: f.timeoutMs, log,
    });
    await s.trainer.setShard(this.rank, this.worldSize);
    log.info({ rank: this.rank, worldSize: this.worldSize, epoch: f.ringEpoch }, 'ring formed');
    this.o.health?.setReady(true, `in ring epoch ${f.ringEpoch}, rank ${this.rank} of ${this.worldSize}`);
  }

  /** StartSteps: the steps back to back, each: masks due, the step (its all-reduce), the report. */
  private async runSteps(s: Session, start: StartSteps__Output): Promise<void> {
    if (start.ringEpoch !== this.epoch) {
      this.log.warn({ startEpoch: start.ringEpoch, epoch: this.epoch, step: start.firstStep + 1 }, 'StartSteps of another ring epoch ignored');
      return;
    }
    const { setup, state } = s;
    for (let i = 0; i < start.count; i++) {
      const step = start.firstStep + i;
      if (state.step !== step) throw new Error(`worker ${this.o.workerId}: asked for step ${step}, at step ${state.step}`);
      await this.applyDueMasks(s, step);
      if (this.worldSize > 1) s.snapshot.take(state, s.scaler.state);
      const stats = await this.trainStep(s, step);
      if (!stats) return;   // the all-reduce failed: nothing applied, a new ring comes
      // AdamW's decay and momentum would move pruned weights off zero: hold them there
      if (s.masks.active && !setup.adapted) applyMasks(setup.trainLayout, state.params, s.masks.active);
      await this.heartbeat(s, stats);   // the coordinator's signal that this rank finished the step
      if (!this.memoryLogged) { this.memoryLogged = true; await this.logMemory(s); }
    }
  }

  /** One step; undefined when its all-reduce failed (nothing applied: say so, wait for a new ring). */
  private async trainStep(s: Session, step: number): Promise<StepStats | undefined> {
    try {
      return await s.trainer.step();
    } catch (e) {
      if (!isRingError(e)) throw e;
      this.ringFailure = ringFailureOf(e);
      this.o.health?.setReady(false, 'all-reduce failed: waiting for a new ring');
      this.log.warn({ step: step + 1, epoch: this.epoch, err: e.message }, 'all-reduce failed: step aborted, waiting for a new ring');
      await this.beat();
      return undefined;
    }
  }

  /** Switches to the pruning masks due at `step`, if any: full prunes the trained weights, lora/qlora the frozen base. */
  private async applyDueMasks(s: Session, step: number): Promise<void> {
    if (!s.masks.activate(step)) return;
    const { setup } = s;
    const masks = s.masks.active as MaskSet;   // activate() returned true: a set is in force
    // the frozen base's tensors live in the compute thread; the trained weights are shared memory
    if (setup.adapted) await s.trainer.pruneBase(masks);
    else applyMasks(setup.trainLayout, s.state.params, masks);
    // masked weights stay zero until the next set
    this.sparsity = setup.adapted ? sparsityReport(setup.baseLayout, setup.baseParams).overall
      : sparsityReport(setup.trainLayout, s.state.params).overall;
    this.log.info({ step, version: s.masks.version, sparsity: this.sparsity }, 'pruning masks applied');
  }

  private async upload(s: Session, c: CheckpointRequest__Output): Promise<void> {
    const ids = { runId: s.runId, checkpointId: c.checkpointId, workerId: this.o.workerId, rank: this.rank };
    await this.coordinator.uploadState(ids, s.state, s.scaler.state, c.includeOptimizer);
  }

  /** Liveness, and after a step its figures (also on NATS) and, every checksumEvery steps, the checksum. */
  private heartbeat(s: Session, stats?: StepStats): Promise<unknown> {
    const { runId, cfg, state, scaler } = s;
    const step = state.step;
    let metrics: WorkerMetrics | undefined;
    if (stats) {
      const t = stepTelemetry({
        runId, rank: this.rank, workerId: this.o.workerId, lossScale: scaler.scale, sparsity: this.sparsity, rssBytes: process.memoryUsage().rss,
        refused: this.server.refused,
      }, stats);
      this.telemetry?.publish(stepSubject(runId, this.rank), t);
      metrics = { ...workerMetrics(t), firstPosition: stats.firstPosition };
    }
    const checksum = stats && cfg.cluster.checksumEvery > 0 && step % cfg.cluster.checksumEvery === 0 ? paramChecksum(state.params) : '';
    return this.coordinator.heartbeat({
      runId, workerId: this.o.workerId, rank: this.rank, step, metrics, paramChecksum: checksum, lossScale: scaler.scale, ringEpoch: this.epoch, ringFailure: this.ringFailure,
      progress: progressOf(s.trainer.progress),
    }).then(() => this.watch?.contact());
  }

  /** Where this process's memory goes (compute/memory_report.ts); a failure to measure is only logged. */
  private async logMemory(s: Session): Promise<void> {
    await memoryReport(s.trainer, s.setup, s.snapshot.bytes).then(
      (m) => this.log.info(m, 'memory'),
      (e: Error) => this.log.warn({ err: e.message }, 'memory report failed'),
    );
  }

  /**
   * A heartbeat whose failure is only logged (the next one may get through). Before the session
   * exists (the compute thread still preparing) it says only that this worker is alive, at the join's step.
   */
  private async beat(joined?: JoinReply__Output): Promise<void> {
    const s = this.session;
    const sent = s ? this.heartbeat(s)
      : joined ? this.coordinator.heartbeat({ runId: joined.runId, workerId: this.o.workerId, rank: this.rank, step: joined.step, ringEpoch: this.epoch, progress: { step: joined.step, phase: 'STEP_PHASE_IDLE', elapsedMs: 0 } })
      : Promise.resolve();
    await sent.catch((e: Error) => this.log.warn({ err: e.message }, 'heartbeat failed'));
  }
}

/** Starts a worker, runs it until the coordinator stops it, and closes it. */
export async function runWorkerProcess(o: WorkerOptions): Promise<WorkerStop> {
  const worker = await Worker.start(o);
  try {
    return await worker.run();
  } finally {
    await worker.close();
  }
}

/** The step in flight as the heartbeat says it ("computing step N for X ms"). */
function progressOf(p: { step: number; phase: keyof typeof PHASES; sinceMs: number }): StepProgress {
  return { step: p.step, phase: PHASES[p.phase], elapsedMs: Math.max(0, Date.now() - p.sinceMs) };
}

type RingError = RingTimeoutError | RingPeerError | RingProtocolError | RingClosedError | NoRingError;

function isRingError(e: unknown): e is RingError {
  return e instanceof RingTimeoutError || e instanceof RingPeerError || e instanceof RingProtocolError || e instanceof RingClosedError
    || e instanceof NoRingError;
}

/** What the coordinator needs to know: a neighbour silent for the ring timeout is dead. */
function ringFailureOf(e: RingError): RingFailure {
  const neighbourRank = e instanceof RingClosedError || e instanceof NoRingError ? -1 : e.rank;
  return { neighbourRank, timedOut: e instanceof RingTimeoutError, reason: e.message };
}
