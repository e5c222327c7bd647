/**
 * A worker: joins the coordinator, forms the ring it is told to, runs the steps it is told to with
 * its slice of each global batch, all-reduces gradients with its neighbours, reports metrics, and
 * uploads its state for checkpoints. It decides nothing (Horovod's split): the coordinator does.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../shared/runtime/log.js';
import { loadConfig, type Config } from '../shared/runtime/config.js';
import { initBackend } from '../shared/runtime/backend.js';
import { loadProtos } from '../shared/runtime/proto_load.js';
import { openPreparedDataset, type PreparedDataset } from '../shared/dataset/reader.js';
import { setUpTraining, type TrainingSetup } from '../shared/training/setup.js';
import type { CoordinatorClient } from '../proto/gen/dsi/v1/Coordinator.js';
import type { JoinReply__Output } from '../proto/gen/dsi/v1/JoinReply.js';
import type { ControlMessage__Output } from '../proto/gen/dsi/v1/ControlMessage.js';
import type { RingFormation__Output } from '../proto/gen/dsi/v1/RingFormation.js';
import type { StateChunk } from '../proto/gen/dsi/v1/StateChunk.js';
import type { WorkerMetrics } from '../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFailure } from '../proto/gen/dsi/v1/RingFailure.js';
import { CollectiveServer } from './collective/grpc_peer.js';
import { createPeer } from './collective/peers.js';
import { Ring } from './collective/ring.js';
import { RingClosedError, RingPeerError, RingProtocolError, RingTimeoutError } from './collective/errors.js';
import { StepSnapshot } from '../shared/training/step_snapshot.js';
import { wireFromDtype } from './collective/wire.js';
import { decoderOutput, trainingData } from '../shared/training/training_data.js';
import { Trainer, type StepStats } from '../shared/training/trainer.js';
import { LossScaler } from '../shared/training/loss_scaler.js';
import { GradientSync, NoRingError } from '../shared/training/gradient_sync.js';
import { MaskReceiver } from './mask_receiver.js';
import { sparsityReport } from '../shared/training/pruning.js';
import { applyMasks, type MaskSet } from '../shared/model/pruning_masks.js';
import { TelemetryConnection } from '../shared/runtime/telemetry/connection.js';
import { stepSubject } from '../shared/runtime/telemetry/payloads.js';
import { stepTelemetry, workerMetrics } from '../shared/runtime/telemetry/step_metrics.js';
import { modelConfigHash, PROTOCOL_VERSION, RUN_CONFIG_KEY, type RunPlan } from '../shared/training/cluster_plan.js';

export interface WorkerProcessOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  workerId: string;
  /** Interface the collective server binds, and the host others dial (advertise). */
  bindHost: string;
  advertiseHost: string;
  /** This process's own settings (backend, model preset): the model hash must match the run's. */
  local: Config;
  /** Give up joining after this long. */
  joinTimeoutMs: number;
  log: Logger;
}

/** Largest state chunk uploaded at once (gRPC's default message limit is 4 MiB). */
const STATE_CHUNK_BYTES = 2 << 20;
const JOIN_RETRY_MS = 250;

function unary<Req, Res>(fn: (req: Req, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as Res)));
  });
}

/** A checksum of the parameters' bits (FNV-1a over 32-bit words): equal replicas give equal values. */
export function paramChecksum(params: Float32Array): string {
  const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ (words[i] as number), 0x01000193) >>> 0;
  return `${h.toString(16).padStart(8, '0')}:${params.length}`;
}

/** The coordinator answered Join with a refusal (not: could not be reached). */
export class JoinRefusedError extends Error {
  override name = 'JoinRefusedError';
}

/** Resolves with the coordinator's reason for stopping this worker ("finished", "operator"...). */
export async function runWorkerProcess(o: WorkerProcessOptions): Promise<string> {
  const log = o.log.child({ component: 'worker', workerId: o.workerId });
  const protos = loadProtos();
  const server = await CollectiveServer.start({ host: o.bindHost, port: 0, protos, log });
  const port = server.address.split(':').pop() ?? '';
  const address = `${o.advertiseHost || o.bindHost}:${port}`;
  const client = new protos.grpc.dsi.v1.Coordinator(o.coordinator, grpc.credentials.createInsecure()) as CoordinatorClient;
  let data: PreparedDataset | undefined;
  let ring: Ring | undefined;
  let telemetry: TelemetryConnection | undefined;
  let stopReason = '';
  try {
    // the backend first, so Join reports what this worker really runs (auto resolves here)
    const backend = await initBackend(o.local.runtime.backend, { webgpuApi: o.local.runtime.webgpuApi });
    const reply = await join(client, o, address, backend.name, log);
    const plan = JSON.parse(reply.configJson) as RunPlan;
    const cfg = loadConfig({ args: [], env: {}, defaults: plan[RUN_CONFIG_KEY] as unknown as Record<string, unknown> });
    log.info({ rank: reply.rank, worldSize: reply.worldSize, backend: backend.name, step: reply.step, nodeFlags: process.execArgv }, 'joined');
    // per-step metrics on NATS when the coordinator has a server (this worker's own --nats-url else)
    const natsUrl = plan.natsUrl || (o.local.telemetry.nats ? o.local.telemetry.natsUrl : '');
    if (natsUrl) telemetry = new TelemetryConnection({ url: natsUrl, name: `dsi-worker-${o.workerId}`, log });
    data = await openPreparedDataset(plan.dataDir);
    const setup = await setUpTraining(cfg, data.manifest.model_vocab_size, plan.resumeFrom || undefined);
    if (setup.state.step !== reply.step) throw new Error(`worker ${o.workerId}: state is at step ${setup.state.step}, the coordinator starts at ${reply.step}`);
    const scaler = LossScaler.initial(cfg.cluster.wire, plan.lossScale ?? cfg.cluster.lossScale, cfg.cluster.lossScaleWindow);
    let rank = reply.rank, worldSize = reply.worldSize, epoch = 0;
    // set while this worker's last all-reduce failed; every heartbeat carries it until a new ring forms
    let ringFailure: RingFailure | undefined;
    const snapshot = new StepSnapshot();
    let sparsity: number | null = null;
    const masks = new MaskReceiver();
    const sync = new GradientSync({ size: setup.trainLayout.total, scaler, masks, maskLayout: setup.adapted ? undefined : setup.trainLayout });
    const examples = trainingData(cfg, data);
    const output = decoderOutput(cfg, data);
    log.info({ mix: examples.mix, decoderOutputRows: output?.ids.length ?? setup.model.vocabSize }, 'training data');
    const trainer = new Trainer({
      cfg, model: setup.model, layout: setup.trainLayout, ...(setup.adapted ? { weights: setup.adapted } : {}),
      data: examples.source, ...(output ? { output } : {}), rank, worldSize, log, sync,
    }, setup.state);

    const formRing = async (f: RingFormation__Output): Promise<void> => {
      await ring?.close();
      // after a loss the ring restarts at the interrupted step: a rank that applied it goes back
      if (snapshot.rewind(setup.state, scaler.state, f.step)) log.warn({ step: f.step + 1, epoch: f.ringEpoch }, 'rolled back the interrupted step to redo it');
      ringFailure = undefined;
      epoch = f.ringEpoch;
      rank = f.rank;
      worldSize = f.addresses.length;
      const peer = createPeer(cfg.cluster.transport, { server, runId: f.runId, epoch: f.ringEpoch, rank, addresses: f.addresses, log });
      ring = sync.ring = new Ring(peer, { runId: f.runId, epoch: f.ringEpoch, rank, worldSize, wire: wireFromDtype(f.wire) ?? 'fp32', chunkBytes: f.chunkBytes, timeoutMs: f.timeoutMs, log });
      trainer.setShard(rank, worldSize);
      log.info({ rank, worldSize, epoch: f.ringEpoch }, 'ring formed');
    };
    if (reply.ring) await formRing(reply.ring);

    const heartbeat = (stats?: StepStats): Promise<unknown> => {
      const step = setup.state.step;
      let metrics: WorkerMetrics | undefined;
      if (stats) {
        const t = stepTelemetry({
          runId: reply.runId, rank, workerId: o.workerId, step, startedAtMs: stats.startedAtMs, dataMs: stats.dataMs, computeMs: stats.computeMs,
          reduceMs: stats.reduceMs, waitMs: sync.last.waitMs, optimizerMs: stats.optimizerMs, samples: stats.localSamples, tokens: stats.tokens,
          loss: stats.loss, gradNorm: stats.gradNorm, skipped: stats.skipped, bytesSent: sync.last.bytesSent, lossScale: scaler.scale, sparsity,
          rssBytes: process.memoryUsage().rss, tensorBytes: stats.peakTensorBytes,
        });
        telemetry?.publish(stepSubject(reply.runId, rank), t);
        metrics = workerMetrics(t);
      }
      const checksum = stats && cfg.cluster.checksumEvery > 0 && step % cfg.cluster.checksumEvery === 0 ? paramChecksum(setup.state.params) : '';
      return unary(client.heartbeat.bind(client), {
        runId: reply.runId, workerId: o.workerId, rank, step, metrics, paramChecksum: checksum, lossScale: scaler.scale, ringEpoch: epoch, ringFailure,
      }, 10_000);
    };
    const timer = setInterval(() => { heartbeat().catch((e: Error) => log.warn({ err: e.message }, 'heartbeat failed')); }, reply.heartbeatIntervalMs || 1000);
    timer.unref();
    try {
      const control = client.control({ runId: reply.runId, workerId: o.workerId, rank });
      for await (const raw of control) {
        const msg = raw as ControlMessage__Output;
        if (msg.command === 'ring' && msg.ring) await formRing(msg.ring);
        else if (msg.command === 'start' && msg.start) {
          if (msg.start.ringEpoch !== epoch) {
            log.warn({ startEpoch: msg.start.ringEpoch, epoch, step: msg.start.firstStep + 1 }, 'StartSteps of another ring epoch ignored');
            continue;
          }
          for (let i = 0; i < msg.start.count; i++) {
            if (setup.state.step !== msg.start.firstStep + i) throw new Error(`worker ${o.workerId}: asked for step ${msg.start.firstStep + i}, at step ${setup.state.step}`);
            const step = setup.state.step;
            if (masks.activate(step)) {
              // full: the trained weights; lora/qlora: the frozen base (the adapters stay dense)
              if (setup.adapted) setup.adapted.pruneBase(setup.baseParams, masks.active as MaskSet);
              else applyMasks(setup.trainLayout, setup.state.params, masks.active as MaskSet);
              sparsity = setup.adapted ? sparsityReport(setup.baseLayout, setup.baseParams).overall
                : sparsityReport(setup.trainLayout, setup.state.params).overall;   // masked weights stay zero until the next set
              log.info({ step, version: masks.version, sparsity }, 'pruning masks applied');
            }
            if (worldSize > 1) snapshot.take(setup.state, scaler.state);
            let stats: StepStats;
            try {
              stats = await trainer.step();
            } catch (e) {
              // the all-reduce failed before the optimizer ran: nothing applied; say so, wait for a new ring
              if (!isRingError(e)) throw e;
              ringFailure = ringFailureOf(e);
              log.warn({ step: step + 1, epoch, err: e.message }, 'all-reduce failed: step aborted, waiting for a new ring');
              await heartbeat().catch((he: Error) => log.warn({ err: he.message }, 'heartbeat failed'));
              break;
            }
            // AdamW's decay and momentum would move pruned weights off zero: hold them there
            if (masks.active && !setup.adapted) applyMasks(setup.trainLayout, setup.state.params, masks.active);
            await heartbeat(stats);   // the coordinator's signal that this rank finished the step
          }
        } else if (msg.command === 'pruningMask' && msg.pruningMask) masks.add(msg.pruningMask);
        else if (msg.command === 'checkpoint' && msg.checkpoint) {
          await uploadState(client, reply.runId, o.workerId, rank, msg.checkpoint.checkpointId, setup, scaler, msg.checkpoint.includeOptimizer);
        } else if (msg.command === 'stop') {
          stopReason = msg.stop?.reason ?? '';
          log.info({ reason: stopReason }, 'stop');
          break;
        }
      }
      control.cancel();
    } finally {
      clearInterval(timer);
    }
    await unary(client.leave.bind(client), { runId: reply.runId, workerId: o.workerId, reason: 'finished' }, 5_000).catch(() => undefined);
    return stopReason;
  } finally {
    await telemetry?.close();
    await ring?.close();
    data?.close();
    client.close();
    await server.close();
  }
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

async function join(client: CoordinatorClient, o: WorkerProcessOptions, address: string, backend: string, log: Logger): Promise<JoinReply__Output> {
  const deadline = Date.now() + o.joinTimeoutMs;
  const req = { workerId: o.workerId, address, modelConfigHash: modelConfigHash(o.local), backend, protocolVersion: PROTOCOL_VERSION };
  for (;;) {
    try {
      return await unary<typeof req, JoinReply__Output>(client.join.bind(client), req, 5_000);
    } catch (e) {
      const err = e as grpc.ServiceError;
      // refused for a reason (wrong model, run full, duplicate id): no point retrying
      if (err.code !== grpc.status.UNAVAILABLE && err.code !== grpc.status.DEADLINE_EXCEEDED) throw new JoinRefusedError(`join refused by ${o.coordinator}: ${err.details || err.message}`, { cause: e });
      if (Date.now() > deadline) throw new Error(`cannot reach the coordinator at ${o.coordinator} within ${o.joinTimeoutMs} ms: ${err.details || err.message}`, { cause: e });
      log.debug({ coordinator: o.coordinator }, 'coordinator not reachable yet');
      await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
    }
  }
}

/** Streams the trainable parameters (and optimizer moments) to the coordinator in chunks. */
async function uploadState(
  client: CoordinatorClient, runId: string, workerId: string, rank: number, checkpointId: string,
  setup: TrainingSetup, scaler: LossScaler, includeOptimizer: boolean,
): Promise<void> {
  const s = setup.state;
  const parts: Array<{ part: StateChunk['part']; name: string; data: Uint8Array; dtype: StateChunk['dtype'] }> = [
    { part: 'STATE_PART_WEIGHTS', name: 'params', data: new Uint8Array(s.params.buffer, s.params.byteOffset, s.params.byteLength), dtype: 'TENSOR_DTYPE_FLOAT32' },
  ];
  if (includeOptimizer) {
    parts.push({ part: 'STATE_PART_OPTIMIZER', name: 'adamw.exp_avg', data: new Uint8Array(s.opt.m.buffer, s.opt.m.byteOffset, s.opt.m.byteLength), dtype: 'TENSOR_DTYPE_FLOAT32' });
    parts.push({ part: 'STATE_PART_OPTIMIZER', name: 'adamw.exp_avg_sq', data: new Uint8Array(s.opt.v.buffer, s.opt.v.byteOffset, s.opt.v.byteLength), dtype: 'TENSOR_DTYPE_FLOAT32' });
  }
  const worker = Buffer.from(JSON.stringify({ adamT: s.opt.t, lossScale: scaler.state }));
  parts.push({ part: 'STATE_PART_WORKER', name: '', data: worker, dtype: 'TENSOR_DTYPE_BYTES' });
  await new Promise<void>((resolve, reject) => {
    const call = client.uploadState((e) => (e ? reject(e) : resolve()));
    parts.forEach((p, pi) => {
      for (let off = 0; off < p.data.length || off === 0; off += STATE_CHUNK_BYTES) {
        const end = Math.min(p.data.length, off + STATE_CHUNK_BYTES);
        call.write({
          runId, checkpointId, workerId, rank, step: s.step, part: p.part, tensorName: p.name, shape: [p.data.length / (p.dtype === 'TENSOR_DTYPE_BYTES' ? 1 : 4)],
          dtype: p.dtype, offsetBytes: off, data: Buffer.from(p.data.buffer, p.data.byteOffset + off, end - off),
          lastChunk: end === p.data.length, lastOfUpload: end === p.data.length && pi === parts.length - 1,
        });
        if (p.data.length === 0) break;
      }
    });
    call.end();
  });
}

