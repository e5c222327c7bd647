/**
 * The ring at work (the base of Membership, membership.ts): its members in rank order, the steps
 * in lockstep, heartbeats, replica checksums, losing a member and re-forming the ring among the
 * survivors. Joining (before the run and during it) is membership.ts's part.
 */
import { status } from '@grpc/grpc-js';
import type { ControlMessage } from '../../proto/gen/dsi/v1/ControlMessage.js';
import type { HeartbeatRequest__Output } from '../../proto/gen/dsi/v1/HeartbeatRequest.js';
import type { WorkerMetrics__Output } from '../../proto/gen/dsi/v1/WorkerMetrics.js';
import type { RingFormation } from '../../proto/gen/dsi/v1/RingFormation.js';
import type { RingFailure__Output } from '../../proto/gen/dsi/v1/RingFailure.js';
import type { Logger } from '../../shared/runtime/log.js';
import type { RunPlan } from '../../proto/gen/dsi/v1/RunPlan.js';
import type { Member, LostWorker, RejoinedWorker } from './member.js';
import { addStepMetrics } from './member.js';
import { ReplicaChecksums } from './replicas.js';
import { awaitSettled, largestDivisorUpTo } from './settle.js';
import { WIRE_DTYPES, type WireName } from '../../shared/runtime/wire_dtypes.js';
import type { RunEventBody } from '../../shared/runtime/telemetry/payloads.js';
import { newSecret } from '../../shared/runtime/security.js';
import { ClusterError, RingBroken } from './errors.js';
import { isMember, type CallRefusal, type MemberCredentials } from './member_auth.js';
import { checkHeartbeat } from './validate.js';
import { describeProgress, SlowStepWatch, stepOverrun } from './step_progress.js';
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

/** A ring may break this often at one step with every member alive (a glitch) before the run stops. */
const MAX_RETRIES_WITHOUT_LOSS = 1;

export abstract class RingMembership {
  readonly members = new Map<string, Member>();
  private stepWaiters: Array<{ step: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly checksums = new ReplicaChecksums();
  protected failure: ClusterError | undefined;
  private readonly failureWaiters: Array<(e: Error) => void> = [];
  ringEpoch = 0;
  /** RingFormation.ring_secret of the current epoch. */
  protected ringSecret = newSecret();
  /** The ring is broken and not yet re-formed. */
  protected broken: RingBroken | undefined;
  /** Step sent in the last StartSteps and not yet finished by every rank. */
  protected inFlight: number | undefined;
  /** Steps every rank has finished (where a new ring starts). */
  protected doneStep: number;
  /** The first ring formed: from now on nobody joins. */
  protected started = false;
  readonly lost: LostWorker[] = [];
  /** Workers that came back (or replaced a lost one) and the step they entered at. */
  readonly rejoined: RejoinedWorker[] = [];
  /** Released because the global batch did not split over every survivor: the run does not want them back. */
  readonly released = new Set<string>();
  protected lostInEpoch = 0;
  private retries = { step: -1, count: 0 };
  private readonly slow: SlowStepWatch;

  constructor(readonly o: MembershipOptions) {
    this.doneStep = o.startStep;
    this.slow = new SlowStepWatch({ livenessTimeoutMs: o.livenessTimeoutMs, log: o.log });
  }


  /** The member a call after Join comes from (ids and secret checked), else why not; changes nothing. */
  abstract authenticate(c: MemberCredentials): Member | CallRefusal;
  /** `m` is joining (not yet in a ring): true when it was, and it is let go. */
  protected abstract dropJoiner(m: Member, why: string): boolean;
  protected abstract isJoining(m: Member): boolean;

  protected assignRanks(): void {
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
    // a joiner loads its state and waits for its ring: alive, nothing else
    if (this.isJoining(m)) { m.lastSeen = Date.now(); return undefined; }
    if (req.progress) { m.progress = req.progress; this.slow.heard(m.workerId, m.rank, req.progress); }
    // a step or failure of an earlier ring is stale: that ring is gone, its work is redone
    if (req.ringEpoch !== this.ringEpoch) { m.lastSeen = Date.now(); return undefined; }
    if (req.rank !== m.rank) return { code: status.INVALID_ARGUMENT, reason: `rank: ${req.rank}, but worker '${m.workerId}' is rank ${m.rank} in ring epoch ${this.ringEpoch}` };
    m.lastSeen = Date.now();
    m.lossScale = req.lossScale;
    if (req.ringFailure && !m.failure) this.ringFailed(m, req.ringFailure);
    // by the step the metrics are of: a heartbeat of the timer may have told the step's end first
    if (req.metrics && req.step > m.metricsStep) {
      addStepMetrics(m, req.step, req.metrics);
      this.o.onMetrics?.(m, req.step, req.metrics);
    }
    m.step = Math.max(m.step, req.step);
    const diverged = req.paramChecksum ? this.checksums.add(req.step, m.rank, req.paramChecksum, this.members.size) : undefined;
    if (diverged) this.fail(new ClusterError(`replicas diverged at step ${req.step}: ${diverged}`));
    this.stepWaiters = this.stepWaiters.filter((w) => {
      if (this.ordered().every((x) => x.step >= w.step)) { w.resolve(); return false; }
      return true;
    });
    return undefined;
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

  /**
   * A member is gone (process exit, Control stream end, heartbeat or ring timeout). Before the first
   * ring the run stops with its name; afterwards it is dropped and the ring breaks (regroup() re-forms it).
   */
  lose(m: Member, why: string): void {
    if (this.dropJoiner(m, why)) return;
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

  /** A rank's all-reduce failed: the ring is dead for everyone (regroup() judges a neighbour it names silent). */
  private ringFailed(m: Member, f: RingFailure__Output): void {
    m.failure = f;
    this.o.log.warn({ workerId: m.workerId, rank: m.rank, neighbour: f.neighbourRank, timedOut: f.timedOut, reason: f.reason }, 'ring failure reported');
    this.breakRing(`rank ${m.rank} (${m.workerId}): ${f.reason}`);
  }

  protected breakRing(why: string): void {
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
    const settleMs = this.o.ringTimeoutMs + 2 * this.o.heartbeatMs;
    const unsettled = await awaitSettled(() => this.ordered(), done, { heartbeatMs: this.o.heartbeatMs, settleMs });
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
        this.released.add(m.workerId);
        this.send(m, { stop: { reason: `released: ${usable} workers split the global batch, ${survived} survived`, graceful: true, cause: 'STOP_CAUSE_RELEASED' } });
        this.o.onEvent?.({ type: 'worker_left', workerId: m.workerId, rank: m.rank, reason: 'released', step, worldSize: usable });
      }
    }
    if (this.members.size === 0) return false;
    this.newRing(step);
    return enough;
  }

  /** A new epoch of the members, at `step` (their state): ranks by worker id, a new ring secret, the ring sent to each. */
  protected newRing(step: number, joined: string[] = []): void {
    this.ringEpoch += 1;
    this.ringSecret = newSecret();   // members dropped from the old ring cannot connect to the new one
    this.doneStep = step;
    this.assignRanks();
    for (const m of this.members.values()) { m.step = step; m.metricsStep = step; m.failure = undefined; }
    this.checksums.clear();
    this.inFlight = undefined;
    this.broken = undefined;
    this.lostInEpoch = 0;
    this.o.log.warn({ ring: this.ordered().map((m) => `${m.rank}:${m.workerId}@${m.address}`), epoch: this.ringEpoch, step: step + 1, worldSize: this.members.size, ...(joined.length ? { joined } : {}) }, 'ring re-formed');
    this.o.onEvent?.({ type: 'ring_formed', epoch: this.ringEpoch, ring: this.ordered().map((m) => ({ rank: m.rank, workerId: m.workerId, address: m.address })) });
    for (const m of this.ordered()) this.send(m, { ring: this.ringFor(m.rank) });
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

  protected withFailure<T>(p: Promise<T>): Promise<T> {
    const now = this.failure ?? this.broken;
    if (now) return Promise.reject(now);
    return unlessFailed(p, this.failureWaiters);   // not Promise.race: that kept every p's value (shared/runtime/unless_failed.ts)
  }
}
