/**
 * The coordinator's view of the run (Horovod's Controller): who is in it, in which ring, which step
 * each rank finished, and their metrics. It decides; gRPC handlers (service.ts) only translate.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { ControlMessage } from '../../proto/gen/dsi/v1/ControlMessage.js';
import type { ControlRequest__Output } from '../../proto/gen/dsi/v1/ControlRequest.js';
import type { JoinReply } from '../../proto/gen/dsi/v1/JoinReply.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { HeartbeatRequest__Output } from '../../proto/gen/dsi/v1/HeartbeatRequest.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFormation } from '../../proto/gen/dsi/v1/RingFormation.js';
import type { RingFailure__Output } from '../../proto/gen/dsi/v1/RingFailure.js';
import type { Logger } from '../../shared/runtime/log.js';
import { PROTOCOL_VERSION } from '../../shared/training/cluster_plan.js';
import type { RunPlan } from '../../proto/gen/dsi/v1/RunPlan.js';
import type { JoinRefusal__Output } from '../../proto/gen/dsi/v1/JoinRefusal.js';
import { WIRE_DTYPES, type WireName } from '../../shared/runtime/wire_dtypes.js';
import type { RunEventBody } from '../../shared/runtime/telemetry/payloads.js';
import { newSecret, tokensEqual } from '../../shared/runtime/security.js';
import { ClusterError, RingBroken } from './errors.js';
import { authenticateMember, isMember, type CallRefusal, type MemberCredentials } from './member_auth.js';
import { checkHeartbeat, checkJoin, MAX_REASON_CHARS } from './validate.js';

export { isMember, type CallRefusal, type MemberCredentials } from './member_auth.js';
import { describeProgress, inStep, SlowStepWatch, stepOverrun } from './step_progress.js';
import type { StepProgress__Output } from '../../proto/gen/dsi/v1/StepProgress.js';
import { unlessFailed } from '../../shared/runtime/unless_failed.js';

export interface MembershipOptions {
  runId: string;
  worldSize: number;
  /** Fewest workers the run goes on with after losses (cluster.minWorkers). @default worldSize */
  minWorkers?: number;
  /** Global batch / accumulate: a ring's size must divide it. @default worldSize */
  microBatches?: number;
  modelConfigHash: string;
  /** JoinReply.plan for every worker. */
  plan: RunPlan;
  startStep: number;
  heartbeatMs: number;
  livenessTimeoutMs: number;
  wire: WireName;
  chunkBytes: number;
  ringTimeoutMs: number;
  /** The run's join token (security.joinTokenFile); undefined: Joins need none. */
  joinToken?: string;
  /** Last step of the run (train.steps): steps reported beyond it are malformed. @default 2^32 - 1 */
  maxStep?: number;
  /** A worker whose heartbeats say it has been inside one step for longer is dropped (a hung compute thread); 0: no limit. @default 0 */
  maxStepMs?: number;
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
  /** JoinReply.member_secret: every later call of this worker must carry it. */
  secret: Buffer;
  control?: ServerWritableStream<ControlRequest__Output, ControlMessage>;
  seq: number;
  step: number;
  lastSeen: number;
  metrics?: WorkerMetrics__Output;
  /** Its all-reduce failed in the current ring epoch: it applied nothing and waits for a new ring. */
  failure?: RingFailure__Output;
  lossScale: number;
  /** The step in flight as its last heartbeat told it (phase and time in it). */
  progress?: StepProgress__Output;
  /** Sums over the run, for the summary. */
  totals: { steps: number; samplesPerSec: number; tokensPerSec: number; stepMs: number; computeMs: number; allReduceMs: number; waitingMs: number; peakRssBytes: number; peakTensorBytes: number };
}

type Admission = { ok: true; reply: Promise<JoinReply> } | { ok: false; refusal: JoinRefusal__Output; field: string; reason: string };

/** Words in a refusal (and in a Stop's reason) that mean the run goes on without the worker, for people. */
const RUN_GOES_ON = 'the run goes on without it';

/** A worker dropped from the run, for the summary and for refusing it if it comes back. */
export interface LostWorker {
  workerId: string;
  /** Its rank in the ring it was lost from. */
  rank: number;
  /** The step it was lost in (1-based, like the step log lines). */
  step: number;
  reason: string;
  /** Workers left after it. */
  worldSize: number;
}

/** Polling interval of regroup()'s wait for the survivors to settle. */
const SETTLE_POLL_MS = 50;
/** A ring may break this often at one step with every member alive (a glitch) before the run stops. */
const MAX_RETRIES_WITHOUT_LOSS = 1;

export class Membership {
  readonly members = new Map<string, Member>();
  private readonly joinWaiters: Array<() => void> = [];
  private stepWaiters: Array<{ step: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly checksums = new Map<number, Map<number, string>>(); // step -> rank -> checksum
  private failure: ClusterError | undefined;
  private readonly failureWaiters: Array<(e: Error) => void> = [];
  ringEpoch = 0;
  /** RingFormation.ring_secret of the current epoch. */
  private ringSecret = newSecret();
  /** The ring is broken and not yet re-formed. */
  private broken: RingBroken | undefined;
  /** Step sent in the last StartSteps and not yet finished by every rank. */
  private inFlight: number | undefined;
  /** Steps every rank has finished (where a new ring starts). */
  private doneStep: number;
  /** The first ring formed: from now on nobody joins. */
  private started = false;
  readonly lost: LostWorker[] = [];
  private lostInEpoch = 0;
  private retries = { step: -1, count: 0 };
  private readonly slow: SlowStepWatch;

  constructor(readonly o: MembershipOptions) {
    this.doneStep = o.startStep;
    this.slow = new SlowStepWatch({ livenessTimeoutMs: o.livenessTimeoutMs, log: o.log });
  }

  get full(): boolean {
    return this.members.size === this.o.worldSize;
  }

  /** Checks a Join; when admitted, the reply resolves once the run is full (ranks sorted by worker id). */
  admit(req: JoinRequest__Output): Admission {
    // the token first: a peer without it learns nothing about the run (ids, whether it is under way)
    if (this.o.joinToken !== undefined && !tokensEqual(req.joinToken, this.o.joinToken))
      return { ok: false, refusal: 'JOIN_REFUSAL_UNAUTHENTICATED', field: 'join_token', reason: req.joinToken ? 'is not the run\'s join token' : 'is missing: this run needs --join-token-file' };
    if (req.protocolVersion !== PROTOCOL_VERSION) return { ok: false, refusal: 'JOIN_REFUSAL_PROTOCOL_VERSION', field: 'protocol_version', reason: `worker speaks protocol ${req.protocolVersion}, this coordinator ${PROTOCOL_VERSION}` };
    const bad = checkJoin(req);
    if (bad) return { ok: false, refusal: 'JOIN_REFUSAL_BAD_REQUEST', ...bad };
    if (this.members.has(req.workerId)) return { ok: false, refusal: 'JOIN_REFUSAL_DUPLICATE_ID', field: 'worker_id', reason: `'${req.workerId}' has already joined this run` };
    const gone = this.lost.find((l) => l.workerId === req.workerId);
    // its weights stopped at the step it was lost in; catching up would need a state transfer
    if (gone) return { ok: false, refusal: 'JOIN_REFUSAL_DROPPED', field: 'worker_id', reason: `'${req.workerId}' was dropped from this run at step ${gone.step} (${gone.reason}); a dropped worker cannot re-join and ${RUN_GOES_ON}` };
    if (this.started) return { ok: false, refusal: 'JOIN_REFUSAL_RUN_UNDER_WAY', field: 'worker_id', reason: `run ${this.o.runId} is under way: workers join only before its first step, ${RUN_GOES_ON}` };
    if (req.modelConfigHash !== this.o.modelConfigHash)
      return { ok: false, refusal: 'JOIN_REFUSAL_MODEL_MISMATCH', field: 'model_config_hash', reason: `worker '${req.workerId}' builds a different model (hash ${req.modelConfigHash.slice(0, 12)}, run ${this.o.modelConfigHash.slice(0, 12)}): start it with the run's --preset/--model-from/--mode` };
    if (this.full) return { ok: false, refusal: 'JOIN_REFUSAL_RUN_FULL', field: 'worker_id', reason: `the run already has its ${this.o.worldSize} workers` };
    this.members.set(req.workerId, {
      workerId: req.workerId, address: req.address, backend: req.backend, rank: -1, secret: newSecret(), seq: 0, step: this.o.startStep, lastSeen: Date.now(), lossScale: 1,
      totals: { steps: 0, samplesPerSec: 0, tokensPerSec: 0, stepMs: 0, computeMs: 0, allReduceMs: 0, waitingMs: 0, peakRssBytes: 0, peakTensorBytes: 0 },
    });
    this.o.log.info({ workerId: req.workerId, address: req.address, backend: req.backend, joined: this.members.size, of: this.o.worldSize }, 'worker joined');
    this.o.onEvent?.({ type: 'worker_joined', workerId: req.workerId, address: req.address, backend: req.backend });
    const reply = new Promise<JoinReply>((resolve) => {
      this.joinWaiters.push(() => {
        const m = this.members.get(req.workerId) as Member; // set above, never removed before the run is full
        resolve({
          runId: this.o.runId, rank: m.rank, worldSize: this.o.worldSize, ring: this.ringFor(m.rank), step: this.o.startStep,
          heartbeatIntervalMs: this.o.heartbeatMs, livenessTimeoutMs: this.o.livenessTimeoutMs, plan: this.o.plan, memberSecret: m.secret,
        });
      });
    });
    if (this.full) this.formRing();
    return { ok: true, reply };
  }

  /** Ranks by worker id, so the same workers always get the same ranks; then answer every Join. */
  private formRing(): void {
    this.started = true;
    // a worker heartbeats only once its JoinReply comes, and those go out now: an early joiner's
    // liveness clock starts here, not at its Join (it may have waited long for the last one)
    const now = Date.now();
    for (const m of this.members.values()) m.lastSeen = now;
    this.assignRanks();
    this.o.log.info({ ring: this.ordered().map((m) => `${m.rank}:${m.workerId}@${m.address}`), epoch: this.ringEpoch }, 'ring formed');
    this.o.onEvent?.({ type: 'ring_formed', epoch: this.ringEpoch, ring: this.ordered().map((m) => ({ rank: m.rank, workerId: m.workerId, address: m.address })) });
    for (const w of this.joinWaiters.splice(0)) w();
  }

  private assignRanks(): void {
    [...this.members.values()].sort((a, b) => (a.workerId < b.workerId ? -1 : 1)).forEach((m, rank) => { m.rank = rank; });
  }

  ordered(): Member[] {
    return [...this.members.values()].sort((a, b) => a.rank - b.rank);
  }

  ringFor(rank: number): RingFormation {
    return {
      runId: this.o.runId, ringEpoch: this.ringEpoch, addresses: this.ordered().map((m) => m.address), rank,
      wire: WIRE_DTYPES[this.o.wire], chunkBytes: this.o.chunkBytes, timeoutMs: this.o.ringTimeoutMs, step: this.doneStep,
      ringSecret: this.ringSecret,
    };
  }

  /** The member a call after Join comes from (ids and secret checked), else why not; changes nothing. */
  authenticate(c: MemberCredentials): Member | CallRefusal {
    return authenticateMember(this.members, this.lost, this.o.runId, c);
  }

  attachControl(req: ControlRequest__Output, call: ServerWritableStream<ControlRequest__Output, ControlMessage>): CallRefusal | undefined {
    const m = this.authenticate(req);
    if (!isMember(m)) return m;
    if (m.control) return { code: status.ALREADY_EXISTS, reason: `worker '${req.workerId}' already has its control stream open` };
    m.control = call;
    call.on('cancelled', () => this.lose(m, 'its control stream was cancelled'));
    call.on('error', () => this.lose(m, 'its control stream failed'));
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

  /** Every rank runs `step` (the ring's all-reduce keeps them together); waitForStep(step + 1) awaits it. */
  startStep(step: number): void {
    if (this.broken) throw this.broken;   // a loss between steps: regroup before anyone starts on the old ring
    this.inFlight = step;
    this.broadcast({ start: { firstStep: step, count: 1, ringEpoch: this.ringEpoch } });
  }

  heartbeat(req: HeartbeatRequest__Output): CallRefusal | undefined {
    const m = this.authenticate(req);
    if (!isMember(m)) return m;
    const bad = checkHeartbeat(req, this.o.maxStep ?? 0xffffffff);
    if (bad) return { code: status.INVALID_ARGUMENT, reason: `${bad.field}: ${bad.reason}` };
    if (req.ringEpoch > this.ringEpoch) return { code: status.INVALID_ARGUMENT, reason: `ring_epoch: ${req.ringEpoch} is ahead of the run's ${this.ringEpoch}` };
    if (req.progress) { m.progress = req.progress; this.slow.heard(m.workerId, m.rank, req.progress); }
    // a step or failure of an earlier ring is stale: that ring is gone, its work is redone
    if (req.ringEpoch !== this.ringEpoch) { m.lastSeen = Date.now(); return undefined; }
    if (req.rank !== m.rank) return { code: status.INVALID_ARGUMENT, reason: `rank: ${req.rank}, but worker '${m.workerId}' is rank ${m.rank} in ring epoch ${this.ringEpoch}` };
    m.lastSeen = Date.now();
    m.lossScale = req.lossScale;
    if (req.ringFailure && !m.failure) this.ringFailed(m, req.ringFailure);
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
    if (at.size < this.members.size) return;
    const groups = new Map<string, number[]>();
    for (const [r, c] of at) groups.set(c, [...(groups.get(c) ?? []), r]);
    this.checksums.delete(step);
    if (groups.size > 1) {
      const desc = [...groups.entries()].map(([c, ranks]) => `ranks ${ranks.sort().join(',')} have ${c}`).join('; ');
      this.fail(new ClusterError(`replicas diverged at step ${step}: ${desc}`));
    }
  }

  /** Resolves when every rank has finished step `step` (reported step >= step); RingBroken when the ring breaks first. */
  async waitForStep(step: number): Promise<void> {
    if (!this.ordered().every((m) => m.step >= step))
      await this.withFailure(new Promise<void>((resolve, reject) => this.stepWaiters.push({ step, resolve, reject })));
    this.inFlight = undefined;
    this.doneStep = step;
  }

  /** `p`, unless the run fails or the ring breaks first (an upload from a rank that died never comes). */
  guard<T>(p: Promise<T>): Promise<T> {
    return this.withFailure(p);
  }

  /** A worker said goodbye (Leave), normally after the run's Stop. */
  left(c: MemberCredentials, reason: string): CallRefusal | undefined {
    const m = this.authenticate(c);
    if (!isMember(m)) return m;
    if (reason.length > MAX_REASON_CHARS) return { code: status.INVALID_ARGUMENT, reason: `reason: longer than ${MAX_REASON_CHARS} characters` };
    this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason });
    return undefined;
  }

  /** Who may upload state now: only the current rank 0, with its secret. */
  uploader(c: MemberCredentials & { rank: number }): Member | CallRefusal {
    const m = this.authenticate(c);
    if (!isMember(m)) return m;
    if (m.rank !== 0 || c.rank !== 0) return { code: status.PERMISSION_DENIED, reason: `rank: worker '${m.workerId}' is rank ${m.rank}; only rank 0 uploads state` };
    return m;
  }

  /**
   * A member is gone (process exit, Control stream end, heartbeat or ring timeout). Before the first
   * ring the run stops with its name; afterwards it is dropped and the ring breaks (regroup() re-forms it).
   */
  lose(m: Member, why: string): void {
    if (this.closing || this.members.get(m.workerId) !== m) return;   // stopping, or dropped already
    if (!this.started) {
      if (!this.failure) this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason: why });
      this.fail(new ClusterError(`worker ${m.workerId} (rank ${m.rank}) is gone: ${why}`));
      return;
    }
    this.members.delete(m.workerId);
    this.lostInEpoch += 1;
    const step = (this.inFlight ?? this.doneStep) + 1;
    const l: LostWorker = { workerId: m.workerId, rank: m.rank, step, reason: why, worldSize: this.members.size };
    this.lost.push(l);
    this.o.log.warn({ workerId: m.workerId, rank: m.rank, step, reason: why, worldSize: l.worldSize, minWorkers: this.minWorkers }, 'worker lost');
    this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason: why, step, worldSize: l.worldSize });
    // still alive (partitioned, hung) but no longer in the run: it must not go on training on its own
    if (m.control) {
      try {
        this.send(m, { stop: { reason: `dropped: ${why}`, graceful: false, cause: 'STOP_CAUSE_DROPPED' } });
        m.control.end();
      } catch { /* its stream is already gone */ }
    }
    this.breakRing(`worker ${m.workerId} (rank ${m.rank}) lost at step ${step}: ${why}`);
  }

  /** A local worker process exited with an error: lost, or the run fails if it never joined. */
  exited(workerId: string, why: string): void {
    const m = this.members.get(workerId);
    if (m) this.lose(m, why);
    else if (!this.started) this.fail(new ClusterError(`worker ${workerId} ${why} before it joined`));
    // else: dropped or released already
  }

  /** A rank's all-reduce failed: the ring is dead for everyone (regroup() judges a neighbour it names silent). */
  private ringFailed(m: Member, f: RingFailure__Output): void {
    m.failure = f;
    this.o.log.warn({ workerId: m.workerId, rank: m.rank, neighbour: f.neighbourRank, timedOut: f.timedOut, reason: f.reason }, 'ring failure reported');
    this.breakRing(`rank ${m.rank} (${m.workerId}): ${f.reason}`);
  }

  private breakRing(why: string): void {
    if (this.broken) return;
    this.broken = new RingBroken(why);
    for (const w of this.stepWaiters.splice(0)) w.reject(this.broken);
    for (const w of this.failureWaiters.splice(0)) w(this.broken);
  }

  get minWorkers(): number {
    return this.o.minWorkers ?? this.o.worldSize;
  }

  /**
   * Re-forms the ring among the survivors after RingBroken, to (re)do `step`: waits until each has
   * finished the step in flight or reported its all-reduce failed (dropping those that do neither
   * within the ring timeout, unless their heartbeats say they are still inside the step: slow, not
   * dead, they settle when it ends), ranks them 0..N'-1 in a new epoch, and sends them the ring. Returns
   * false when fewer than minWorkers are left (the ring is still formed, so rank 0 can upload a
   * consistent state for the last checkpoint).
   */
  async regroup(step: number): Promise<boolean> {
    if (this.failure) throw this.failure;
    const done = this.inFlight === undefined ? step : this.inFlight + 1;
    const settled = (m: Member): boolean => m.failure !== undefined || m.step >= done;
    // named silent by a neighbour's ring timeout and not heard of since: dead or hung. A live rank that
    // a neighbour named (it was itself waiting on the dead one) reports its own failure and is settled.
    // still heartbeating from inside the step (a slow step, computed on its own thread): it settles when the step ends
    const working = (m: Member): boolean => !settled(m) && inStep(m.progress, m.lastSeen, this.o.heartbeatMs);
    const accuser = (m: Member): Member | undefined => (working(m) ? undefined : this.ordered().find((x) => x.failure?.timedOut && x.failure.neighbourRank === m.rank && x !== m));
    const settleMs = this.o.ringTimeoutMs + 2 * this.o.heartbeatMs;
    const deadline = Date.now() + settleMs;
    while (!this.ordered().every((m) => settled(m) || accuser(m)) && (Date.now() < deadline || this.ordered().some(working))) await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    const unsettled = this.ordered().filter((x) => !settled(x)).map((m) => ({ m, by: accuser(m) }));
    for (const { m, by } of unsettled)
      this.lose(m, by ? `rank ${by.rank} (${by.workerId}) heard nothing from it for ${this.o.ringTimeoutMs} ms` : `neither finished step ${done} nor reported a ring failure within ${settleMs} ms`);
    if (this.failure) throw this.failure;
    if (this.lostInEpoch === 0) {
      // everyone is alive: a glitch (a stream reset) may pass; a failure that repeats is a fault
      this.retries = this.retries.step === step ? { step, count: this.retries.count + 1 } : { step, count: 1 };
      if (this.retries.count > MAX_RETRIES_WITHOUT_LOSS) {
        const why = this.ordered().filter((m) => m.failure).map((m) => `rank ${m.rank} (${m.workerId}): ${m.failure?.reason}`).join('; ');
        throw new ClusterError(`the ring failed ${this.retries.count} times at step ${step + 1} with every worker alive: ${why}`);
      }
    }
    // a ring's size must divide the global batch: spare survivors are released
    const usable = largestDivisorUpTo(this.o.microBatches ?? this.o.worldSize, this.members.size);
    const enough = usable >= this.minWorkers;
    const survived = this.members.size;
    if (enough) {
      for (const m of this.ordered().sort((a, b) => (a.workerId < b.workerId ? -1 : 1)).slice(usable)) {
        this.o.log.warn({ workerId: m.workerId, worldSize: usable }, 'worker released: the global batch does not split over every survivor');
        this.members.delete(m.workerId);
        this.send(m, { stop: { reason: `released: ${usable} workers split the global batch, ${survived} survived`, graceful: true, cause: 'STOP_CAUSE_RELEASED' } });
        this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason: 'released', step, worldSize: usable });
      }
    }
    if (this.members.size === 0) return false;
    this.ringEpoch += 1;
    this.ringSecret = newSecret();   // members dropped from the old ring cannot connect to the new one
    this.doneStep = step;
    this.assignRanks();
    for (const m of this.members.values()) { m.step = step; m.failure = undefined; }
    this.checksums.clear();
    this.inFlight = undefined;
    this.broken = undefined;
    this.lostInEpoch = 0;
    this.o.log.warn({ ring: this.ordered().map((m) => `${m.rank}:${m.workerId}@${m.address}`), epoch: this.ringEpoch, step: step + 1, worldSize: this.members.size }, 'ring re-formed');
    this.o.onEvent?.({ type: 'ring_formed', epoch: this.ringEpoch, ring: this.ordered().map((m) => ({ rank: m.rank, workerId: m.workerId, address: m.address })) });
    for (const m of this.ordered()) this.send(m, { ring: this.ringFor(m.rank) });
    return enough;
  }

  /**
   * Drops members silent for longer than the liveness timeout, and (maxStepMs) those whose step does
   * not end. Silence is judged after one turn of I/O: timers run before it, so when this process was
   * itself stalled (writing a checkpoint, evaluating, a loaded machine) the heartbeats that came
   * meanwhile are still unread in its sockets, and every worker would look silent.
   */
  checkLiveness(now = Date.now()): void {
    const silent = [...this.members.values()].filter((m) => now - m.lastSeen > this.o.livenessTimeoutMs);
    for (const m of this.members.values())
      if (!silent.includes(m) && stepOverrun(m.progress, this.o.maxStepMs)) this.lose(m, `${describeProgress(m.progress as StepProgress__Output)}, past cluster.maxStepMs (${this.o.maxStepMs} ms): it answers, but its step does not end`);
    if (silent.length > 0) setImmediate(() => this.dropSilent(silent));
  }

  private dropSilent(candidates: Member[]): void {
    const now = Date.now();
    for (const m of candidates)
      if (now - m.lastSeen > this.o.livenessTimeoutMs) this.lose(m, `no heartbeat for ${now - m.lastSeen} ms${m.progress ? ` (last heard: ${describeProgress(m.progress)})` : ''}`);
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
    const now = this.failure ?? this.broken;
    if (now) return Promise.reject(now);
    return unlessFailed(p, this.failureWaiters);   // not Promise.race: that kept every p's value (shared/runtime/unless_failed.ts)
  }
}

/** The largest n <= most that divides total (1 always does). */
function largestDivisorUpTo(total: number, most: number): number {
  for (let n = most; n > 1; n--) if (total % n === 0) return n;
  return Math.min(1, most);
}
