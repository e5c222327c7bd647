/**
 * The coordinator's view of the run (Horovod's Controller): who is in it, in which ring, which step
 * each rank finished, and their metrics. It decides; gRPC handlers (service.ts) only translate.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ControlMessage } from '../../proto/gen/dsi/v1/ControlMessage.js';
import type { ControlRequest__Output } from '../../proto/gen/dsi/v1/ControlRequest.js';
import type { JoinReply } from '../../proto/gen/dsi/v1/JoinReply.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { HeartbeatRequest__Output } from '../../proto/gen/dsi/v1/HeartbeatRequest.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFormation } from '../../proto/gen/dsi/v1/RingFormation.js';
import type { Logger } from '../../shared/log.js';
import { PROTOCOL_VERSION } from '../../shared/cluster_plan.js';
import { WIRE_DTYPES, type WireName } from '../../worker/collective/wire.js';
import type { RunEventBody } from '../../shared/telemetry/payloads.js';

export interface MembershipOptions {
  runId: string;
  worldSize: number;
  modelConfigHash: string;
  /** JoinReply.config_json for every worker. */
  planJson: string;
  startStep: number;
  heartbeatMs: number;
  livenessTimeoutMs: number;
  wire: WireName;
  chunkBytes: number;
  ringTimeoutMs: number;
  log: Logger;
  /** Run events (worker joined or left, ring formed), for telemetry. */
  onEvent?: (e: RunEventBody) => void;
  /** A rank's metrics for a step it finished, as its heartbeat carried them. */
  onMetrics?: (m: Member, step: number, metrics: WorkerMetrics__Output) => void;
}

export interface Member {
  workerId: string;
  address: string;
  backend: string;
  rank: number;
  control?: ServerWritableStream<ControlRequest__Output, ControlMessage>;
  seq: number;
  step: number;
  lastSeen: number;
  metrics?: WorkerMetrics__Output;
  lossScale: number;
  /** Sums over the run, for the summary. */
  totals: { steps: number; samplesPerSec: number; tokensPerSec: number; stepMs: number; computeMs: number; allReduceMs: number; waitingMs: number; peakRssBytes: number; peakTensorBytes: number };
}

type Admission = { ok: true; reply: Promise<JoinReply> } | { ok: false; field: string; reason: string };

/** The run cannot go on (a worker died, replicas diverged...); the message names the ranks. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}

export class Membership {
  readonly members = new Map<string, Member>();
  private readonly joinWaiters: Array<() => void> = [];
  private stepWaiters: Array<{ step: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly checksums = new Map<number, Map<number, string>>(); // step -> rank -> checksum
  private failure: ClusterError | undefined;
  private readonly failureWaiters: Array<(e: ClusterError) => void> = [];
  ringEpoch = 0;

  constructor(readonly o: MembershipOptions) {}

  get full(): boolean {
    return this.members.size === this.o.worldSize;
  }

  /** Checks a Join; when admitted, the reply resolves once the run is full (ranks sorted by worker id). */
  admit(req: JoinRequest__Output): Admission {
    if (req.protocolVersion !== PROTOCOL_VERSION) return { ok: false, field: 'protocol_version', reason: `worker speaks protocol ${req.protocolVersion}, this coordinator ${PROTOCOL_VERSION}` };
    if (!req.workerId) return { ok: false, field: 'worker_id', reason: 'is empty' };
    if (!/^[^:\s]+:\d+$/.test(req.address)) return { ok: false, field: 'address', reason: `'${req.address}' is not host:port` };
    if (this.members.has(req.workerId)) return { ok: false, field: 'worker_id', reason: `'${req.workerId}' has already joined this run` };
    if (req.modelConfigHash !== this.o.modelConfigHash)
      return { ok: false, field: 'model_config_hash', reason: `worker '${req.workerId}' builds a different model (hash ${req.modelConfigHash.slice(0, 12)}, run ${this.o.modelConfigHash.slice(0, 12)}): start it with the run's --preset/--model-from/--mode` };
    if (this.full) return { ok: false, field: 'worker_id', reason: `the run already has its ${this.o.worldSize} workers` };
    this.members.set(req.workerId, {
      workerId: req.workerId, address: req.address, backend: req.backend, rank: -1, seq: 0, step: this.o.startStep, lastSeen: Date.now(), lossScale: 1,
      totals: { steps: 0, samplesPerSec: 0, tokensPerSec: 0, stepMs: 0, computeMs: 0, allReduceMs: 0, waitingMs: 0, peakRssBytes: 0, peakTensorBytes: 0 },
    });
    this.o.log.info({ workerId: req.workerId, address: req.address, backend: req.backend, joined: this.members.size, of: this.o.worldSize }, 'worker joined');
    this.o.onEvent?.({ type: 'worker_joined', workerId: req.workerId, address: req.address, backend: req.backend });
    const reply = new Promise<JoinReply>((resolve) => {
      this.joinWaiters.push(() => {
        const m = this.members.get(req.workerId) as Member; // set above, never removed before the run is full
        resolve({
          runId: this.o.runId, rank: m.rank, worldSize: this.o.worldSize, ring: this.ringFor(m.rank), step: this.o.startStep,
          heartbeatIntervalMs: this.o.heartbeatMs, livenessTimeoutMs: this.o.livenessTimeoutMs, configJson: this.o.planJson,
        });
      });
    });
    if (this.full) this.formRing();
    return { ok: true, reply };
  }

  /** Ranks by worker id, so the same workers always get the same ranks; then answer every Join. */
  private formRing(): void {
    [...this.members.values()].sort((a, b) => (a.workerId < b.workerId ? -1 : 1)).forEach((m, rank) => { m.rank = rank; });
    this.o.log.info({ ring: this.ordered().map((m) => `${m.rank}:${m.workerId}@${m.address}`), epoch: this.ringEpoch }, 'ring formed');
    this.o.onEvent?.({ type: 'ring_formed', epoch: this.ringEpoch, ring: this.ordered().map((m) => ({ rank: m.rank, workerId: m.workerId, address: m.address })) });
    for (const w of this.joinWaiters.splice(0)) w();
  }

  ordered(): Member[] {
    return [...this.members.values()].sort((a, b) => a.rank - b.rank);
  }

  ringFor(rank: number): RingFormation {
    return {
      runId: this.o.runId, ringEpoch: this.ringEpoch, addresses: this.ordered().map((m) => m.address), rank,
      wire: WIRE_DTYPES[this.o.wire], chunkBytes: this.o.chunkBytes, timeoutMs: this.o.ringTimeoutMs,
    };
  }

  attachControl(req: ControlRequest__Output, call: ServerWritableStream<ControlRequest__Output, ControlMessage>): string | undefined {
    const m = this.members.get(req.workerId);
    if (!m || req.runId !== this.o.runId) return `worker '${req.workerId}' is not a member of run ${this.o.runId}: Join first`;
    m.control = call;
    call.on('cancelled', () => this.lost(m, 'its control stream was cancelled'));
    call.on('error', () => this.lost(m, 'its control stream failed'));
    if (this.ordered().every((x) => x.control)) for (const w of this.controlWaiters.splice(0)) w();
    return undefined;
  }

  private readonly controlWaiters: Array<() => void> = [];

  /** Resolves when every worker has joined and opened its control stream. */
  ready(timeoutMs: number): Promise<void> {
    if (this.full && this.ordered().every((m) => m.control)) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const joined = this.withFailure(new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new ClusterError(`only ${this.members.size} of ${this.o.worldSize} workers joined within ${timeoutMs} ms (joined: ${[...this.members.keys()].join(', ') || 'none'})`)), timeoutMs);
      this.controlWaiters.push(resolve);
    }));
    // whatever ends the wait (all joined, a failure, the timeout), the timer must not keep the process alive
    return joined.finally(() => clearTimeout(timer));
  }

  send(m: Member, msg: Omit<ControlMessage, 'seq'>): void {
    if (!m.control) throw new ClusterError(`rank ${m.rank} (${m.workerId}) has no control stream`);
    m.seq += 1;
    m.control.write({ ...msg, seq: m.seq });
  }

  broadcast(msg: Omit<ControlMessage, 'seq'>): void {
    for (const m of this.ordered()) this.send(m, msg);
  }

  heartbeat(req: HeartbeatRequest__Output): string | undefined {
    const m = this.members.get(req.workerId);
    if (!m || req.runId !== this.o.runId) return `worker '${req.workerId}' is not a member of run ${this.o.runId}`;
    m.lastSeen = Date.now();
    m.lossScale = req.lossScale;
    if (req.metrics && req.step > m.step) {
      m.metrics = req.metrics;
      const t = m.totals, x = req.metrics;
      t.steps += 1; t.samplesPerSec += x.samplesPerSec; t.tokensPerSec += x.tokensPerSec; t.stepMs += x.stepMs;
      t.computeMs += x.computeMs; t.allReduceMs += x.allReduceMs; t.waitingMs += x.waitingMs;
      t.peakRssBytes = Math.max(t.peakRssBytes, x.rssBytes);
      t.peakTensorBytes = Math.max(t.peakTensorBytes, x.tensorBytes);
      this.o.onMetrics?.(m, req.step, x);
    }
    m.step = Math.max(m.step, req.step);
    if (req.paramChecksum) this.checkReplicas(req.step, m.rank, req.paramChecksum);
    this.stepWaiters = this.stepWaiters.filter((w) => {
      if (this.ordered().every((x) => x.step >= w.step)) { w.resolve(); return false; }
      return true;
    });
    return undefined;
  }

  private checkReplicas(step: number, rank: number, checksum: string): void {
    const at = this.checksums.get(step) ?? new Map<number, string>();
    this.checksums.set(step, at);
    at.set(rank, checksum);
    if (at.size < this.o.worldSize) return;
    const groups = new Map<string, number[]>();
    for (const [r, c] of at) groups.set(c, [...(groups.get(c) ?? []), r]);
    this.checksums.delete(step);
    if (groups.size > 1) {
      const desc = [...groups.entries()].map(([c, ranks]) => `ranks ${ranks.sort().join(',')} have ${c}`).join('; ');
      this.fail(new ClusterError(`replicas diverged at step ${step}: ${desc}`));
    }
  }

  /** Resolves when every rank has finished step `step` (reported step >= step). */
  waitForStep(step: number): Promise<void> {
    if (this.ordered().every((m) => m.step >= step)) return Promise.resolve();
    return this.withFailure(new Promise<void>((resolve, reject) => this.stepWaiters.push({ step, resolve, reject })));
  }

  /** A worker said goodbye (Leave), normally after the run's Stop. */
  left(workerId: string, reason: string): void {
    const m = this.members.get(workerId);
    if (m) this.o.onEvent?.({ type: 'worker_left', workerId, rank: m.rank, reason });
  }

  /** A member is gone: until the ring can re-form without it, the run stops with its name. */
  lost(m: Member, why: string): void {
    if (this.closing) return;
    // the first loss stops the run; later calls (liveness checks, stream errors) repeat it
    if (!this.failure) this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason: why });
    this.fail(new ClusterError(`worker ${m.workerId} (rank ${m.rank}) is gone: ${why}`));
  }

  /** Drops members silent for longer than the liveness timeout. */
  checkLiveness(now = Date.now()): void {
    for (const m of this.members.values())
      if (now - m.lastSeen > this.o.livenessTimeoutMs) this.lost(m, `no heartbeat for ${now - m.lastSeen} ms`);
  }

  closing = false;

  fail(e: ClusterError): void {
    if (this.failure) return;
    this.failure = e;
    this.o.log.error({ err: e.message }, 'run failed');
    for (const w of this.stepWaiters.splice(0)) w.reject(e);
    for (const w of this.failureWaiters.splice(0)) w(e);
  }

  private withFailure<T>(p: Promise<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return Promise.race([p, new Promise<T>((_, reject) => this.failureWaiters.push(reject))]);
  }
}
