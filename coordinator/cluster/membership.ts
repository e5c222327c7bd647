/**
 * The coordinator's view of the run (Horovod's Controller): who is in it, in which ring, which step
 * each rank finished, and their metrics. It decides; gRPC handlers (service.ts) only translate.
 * This file is joining: the first ring (every worker's Join), the Control streams, and workers that
 * join a run under way (rejoin.ts), grown into the ring at a step boundary. The ring at work (steps,
 * heartbeats, losses, regrouping) is ring_membership.ts.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { ControlMessage } from '../../proto/gen/dsi/v1/ControlMessage.js';
import type { ControlRequest__Output } from '../../proto/gen/dsi/v1/ControlRequest.js';
import type { JoinReply } from '../../proto/gen/dsi/v1/JoinReply.js';
import type { JoinRequest__Output } from '../../proto/gen/dsi/v1/JoinRequest.js';
import type { RunPlan } from '../../proto/gen/dsi/v1/RunPlan.js';
import type { JoinRefusal__Output } from '../../proto/gen/dsi/v1/JoinRefusal.js';
import { newMember, type Member } from './member.js';
import { Joiners } from './rejoin.js';
import { joinRefusal, modelRefusal } from './join_checks.js';
import { joinersToTake } from './settle.js';
import { ClusterError } from './errors.js';
import { authenticateMember, isMember, type CallRefusal, type MemberCredentials } from './member_auth.js';
import { MAX_REASON_CHARS } from './validate.js';
import { RingMembership, type MembershipOptions } from './ring_membership.js';

export { isMember, type CallRefusal, type MemberCredentials } from './member_auth.js';
export type { Member, LostWorker, RejoinedWorker } from './member.js';
export type { MembershipOptions } from './ring_membership.js';

type Admission = { ok: true; reply: Promise<JoinReply> } | { ok: false; refusal: JoinRefusal__Output; field: string; reason: string };

/** Words in a refusal (and in a Stop's reason) that mean the run goes on without the worker, for people. */
export const RUN_GOES_ON = 'the run goes on without it';

export class Membership extends RingMembership {
  constructor(o: MembershipOptions) {
    super(o);
  }

  private readonly joinWaiters: Array<() => void> = [];
  private readonly controlWaiters: Array<() => void> = [];
  /** Called when a joiner opens its Control stream or is gone. */
  private joinerWaiters: Array<() => void> = [];
  /** Joins held while the run is under way, until a step boundary lets them in (grow()). */
  private readonly joiners = new Joiners();

  get full(): boolean {
    return this.members.size === this.o.worldSize;
  }

  /** Checks a Join; when admitted, the reply resolves once the run is full (ranks sorted by worker id), or (run under way) at a step boundary. */
  admit(req: JoinRequest__Output): Admission {
    const refused = joinRefusal(req, this.o, this.members.has(req.workerId));
    if (refused) return { ok: false, ...refused };
    if (this.started) return this.admitLate(req);
    const otherModel = modelRefusal(req, this.o.modelConfigHash);
    if (otherModel) return { ok: false, ...otherModel };
    if (this.full) return { ok: false, refusal: 'JOIN_REFUSAL_RUN_FULL', field: 'worker_id', reason: `the run already has its ${this.o.worldSize} workers` };
    this.members.set(req.workerId, newMember(req, this.o.startStep));
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

  /** A Join once the run is under way (a lost worker back, or a replacement): held until a step boundary (rejoin.ts). */
  private admitLate(req: JoinRequest__Output): Admission {
    const again = this.joiners.get(req.workerId) !== undefined;
    if (this.closing) return { ok: false, refusal: 'JOIN_REFUSAL_RUN_UNDER_WAY', field: 'worker_id', reason: `run ${this.o.runId} is finishing, ${RUN_GOES_ON}` };
    if (!again && this.members.size + this.joiners.size >= this.o.worldSize)
      return { ok: false, refusal: 'JOIN_REFUSAL_RUN_UNDER_WAY', field: 'worker_id', reason: `run ${this.o.runId} is under way with its ${this.o.worldSize} workers (${this.members.size} in the ring, ${this.joiners.size} joining), ${RUN_GOES_ON}` };
    const otherModel = modelRefusal(req, this.o.modelConfigHash);
    if (otherModel) return { ok: false, ...otherModel };
    const gone = [...this.lost].reverse().find((l) => l.workerId === req.workerId);
    this.o.log.info({ workerId: req.workerId, address: req.address, ...(gone ? { lostAtStep: gone.step } : {}), step: this.doneStep }, again ? 'worker joining again (its Join call timed out)' : 'worker re-joining: held until a step boundary');
    if (!again) this.o.onEvent?.({ type: 'worker_joined', workerId: req.workerId, address: req.address, backend: req.backend });
    return { ok: true, reply: this.joiners.hold(req, this.doneStep) };
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

  /** The member a call after Join comes from (ids and secret checked), else why not; changes nothing. */
  override authenticate(c: MemberCredentials): Member | CallRefusal {
    return authenticateMember((id) => this.members.get(id) ?? this.joiners.get(id), this.lost, this.o.runId, c);
  }

  attachControl(req: ControlRequest__Output, call: ServerWritableStream<ControlRequest__Output, ControlMessage>): CallRefusal | undefined {
    const m = this.authenticate(req);
    if (!isMember(m)) return m;
    if (m.control) return { code: status.ALREADY_EXISTS, reason: `worker '${req.workerId}' already has its control stream open` };
    m.control = call;
    call.on('cancelled', () => this.lose(m, 'its control stream was cancelled'));
    call.on('error', () => this.lose(m, 'its control stream failed'));
    if (this.ordered().every((x) => x.control)) for (const w of this.controlWaiters.splice(0)) w();
    if (this.joiners.get(m.workerId) === m) for (const w of this.joinerWaiters.splice(0)) w();
    return undefined;
  }

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

  /** A local worker process exited with an error: lost, or the run fails if it never joined. */
  exited(workerId: string, why: string): void {
    const m = this.members.get(workerId) ?? this.joiners.get(workerId);
    if (m) this.lose(m, why);
    else if (!this.started) this.fail(new ClusterError(`worker ${workerId} ${why} before it joined`));
    // else: dropped or released already
  }

  /** Joiners held (not yet answered) that fit the ring now: the grown ring's size must divide the global batch. */
  joinersDue(): Member[] {
    const waiting = this.joiners.waiting();
    return waiting.slice(0, joinersToTake(this.o.microBatches ?? this.o.worldSize, this.members.size, waiting.length, this.o.worldSize));
  }

  /** Some joiners were answered and have not entered a ring yet. */
  get joinersWelcomed(): boolean {
    return this.joiners.welcomed().length > 0;
  }

  /** Answers the Joins of `joiners` with `plan` (its resumeFrom: the state at `step`); they load it, then open their Control streams. */
  welcome(joiners: Member[], plan: RunPlan, step: number): void {
    const worldSize = this.members.size + joiners.length;
    this.joiners.welcome(joiners, (m) => ({
      runId: this.o.runId, rank: 0, worldSize, step, heartbeatIntervalMs: this.o.heartbeatMs, livenessTimeoutMs: this.o.livenessTimeoutMs, plan, memberSecret: m.secret,
    }));
  }

  /**
   * Waits (at most timeoutMs, or until the ring breaks) for the welcomed joiners' Control streams;
   * one that opens none in time is let go. Then grows the ring at `step` by those that did. Returns their ids.
   */
  async grow(step: number, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const pending = (): Member[] => this.joiners.welcomed().filter((m) => !m.control);
    while (pending().length > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await this.withFailure(new Promise<void>((resolve) => { this.joinerWaiters.push(resolve); timer = setTimeout(resolve, Math.max(0, deadline - Date.now())); })).finally(() => clearTimeout(timer));
    }
    for (const m of pending()) this.loseJoiner(m, `it opened no Control stream within ${timeoutMs} ms of its JoinReply`);
    const welcomed = this.joiners.welcomed();
    // the ring may have shrunk meanwhile: those that no longer fit go (a restart brings them back)
    const fit = joinersToTake(this.o.microBatches ?? this.o.worldSize, this.members.size, welcomed.length, this.o.worldSize);
    for (const m of welcomed.slice(fit)) this.loseJoiner(m, `${this.members.size + welcomed.length} workers would not split the global batch`);
    const ready = welcomed.slice(0, fit);
    if (ready.length === 0) return [];
    if (this.broken) throw this.broken;
    for (const m of ready) {
      this.joiners.remove(m.workerId);
      this.members.set(m.workerId, m);
      this.rejoined.push({ workerId: m.workerId, step: step + 1, worldSize: this.members.size });
    }
    this.newRing(step, ready.map((m) => m.workerId));
    return ready.map((m) => m.workerId);
  }

  protected override isJoining(m: Member): boolean {
    return this.joiners.get(m.workerId) === m;
  }

  protected override dropJoiner(m: Member, why: string): boolean {
    if (!this.isJoining(m)) return false;
    this.loseJoiner(m, why);
    return true;
  }

  /** A joiner gone before it entered a ring: nothing to regroup, its place is free again. */
  private loseJoiner(m: Member, why: string): void {
    this.joiners.remove(m.workerId);
    this.o.log.warn({ workerId: m.workerId, reason: why }, 'joining worker lost');
    try { m.control?.end(); } catch { /* already gone */ }
    for (const w of this.joinerWaiters.splice(0)) w();
  }

  /** Whether a local worker of this id that exited should be started again: the run lost it and goes on. */
  wantsBack(workerId: string): boolean {
    return this.started && !this.closing && !this.failure && !this.released.has(workerId) && !this.members.has(workerId)
      && this.joiners.get(workerId) === undefined && this.lost.some((l) => l.workerId === workerId);
  }

  /** The run is over: Joins still held are refused. */
  refuseJoiners(why: string): void {
    this.joiners.refuseAll(why);
  }

}
