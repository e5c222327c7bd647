/**
 * Matches the Relay connections a worker's server accepts (its right neighbours') to the rings formed
 * in that worker, whichever comes first; shared by the gRPC and the raw-TCP transport.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/runtime/log.js';
import type { RelayOpen__Output } from '../../proto/gen/dsi/v1/RelayOpen.js';

/** The sending half of one Relay connection, as the registry sees it. */
export interface Relay {
  /** What the receiver said when it opened the connection. */
  readonly open: RelayOpen__Output;
  onGone(listener: () => void): void;
  /** The receiver went away: pending and later writes fail with `e`. */
  markGone(e: Error): void;
  /** Ends the connection: OK, or refused/aborted with `details` the receiver will see (`code` says why). */
  finish(code?: grpc.status, details?: string): void;
}

/**
 * What both transports' sending halves share: once the receiver is gone, pending and later writes
 * fail with why, and listeners hear it once. A subclass says how one write completes and how the
 * connection ends.
 */
export abstract class RelayBase implements Relay {
  private gone: Error | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  private readonly goneListeners: Array<() => void> = [];

  constructor(readonly open: RelayOpen__Output) {}

  /** Runs `start`, whose callback says when the transport is done with the chunk's bytes. */
  protected track(start: (done: (err?: Error | null) => void) => void): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise<void>((resolve, reject) => {
      this.pending.add(reject);
      start((err) => {
        this.pending.delete(reject);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  onGone(listener: () => void): void {
    if (this.gone) listener();
    else this.goneListeners.push(listener);
  }

  /** The receiver went away: pending and later writes fail with `e` (a dead connection never calls back). */
  markGone(e: Error): void {
    if (this.gone) return;
    this.gone = e;
    for (const reject of this.pending) reject(e);
    this.pending.clear();
    for (const l of this.goneListeners.splice(0)) l();
  }

  finish(code: grpc.status = grpc.status.OK, details = ''): void {
    const wasGone = this.gone !== undefined;
    this.markGone(new Error(details || 'ring closed by this rank'));
    if (wasGone && code === grpc.status.OK) return;
    this.end(code, details);
  }

  /** Closes the connection: cleanly for OK without details, else so the receiver sees `details`. */
  protected abstract end(code: grpc.status, details: string): void;
}

/** Matches Relay calls to the rings of this process, whichever of the two arrives first. */
export class RelayRegistry<R extends Relay> {
  private readonly parked = new Map<string, R>();
  private readonly wanted = new Map<string, { receiverRank: number; resolve: (r: R) => void; reject: (e: Error) => void }>();
  private readonly latestEpoch = new Map<string, number>();
  private readonly retired = new Set<string>();

  constructor(private readonly log: Logger | undefined) {}

  /** A Relay call arrived (from the handler). */
  offer(relay: R): void {
    const { runId, ringEpoch, receiverRank } = relay.open;
    const key = keyOf(runId, ringEpoch);
    if (this.retired.has(key) || ringEpoch < (this.latestEpoch.get(runId) ?? 0)) {
      relay.finish(grpc.status.FAILED_PRECONDITION, `ring epoch ${ringEpoch} of run '${runId}' is over on this worker`);
      return;
    }
    const want = this.wanted.get(key);
    if (want) {
      this.wanted.delete(key);
      if (receiverRank !== want.receiverRank) {
        const details = `receiver_rank ${receiverRank} is not this worker's right neighbour (rank ${want.receiverRank}) in run '${runId}' epoch ${ringEpoch}`;
        relay.finish(grpc.status.INVALID_ARGUMENT, details);
        want.reject(new Error(details));
        return;
      }
      want.resolve(relay);
    } else if (this.parked.has(key)) {
      relay.finish(grpc.status.ALREADY_EXISTS, `a Relay call for run '${runId}' epoch ${ringEpoch} is already open`);
    } else {
      this.parked.set(key, relay);
      relay.onGone(() => { if (this.parked.get(key) === relay) this.parked.delete(key); });
      this.log?.debug({ runId, ringEpoch, receiverRank }, 'relay parked until its ring forms here');
    }
  }

  /** The ring (runId, epoch) formed here: its right neighbour's Relay call, now or when it comes. */
  want(runId: string, epoch: number, receiverRank: number): Promise<R> {
    const key = keyOf(runId, epoch);
    if (epoch > (this.latestEpoch.get(runId) ?? -1)) this.latestEpoch.set(runId, epoch);
    for (const [k, r] of this.parked) {
      if (r.open.runId === runId && r.open.ringEpoch < epoch) {
        r.finish(grpc.status.FAILED_PRECONDITION, `ring epoch ${r.open.ringEpoch} of run '${runId}' is over on this worker`);
        this.parked.delete(k);
      }
    }
    const parked = this.parked.get(key);
    if (parked) {
      this.parked.delete(key);
      if (parked.open.receiverRank !== receiverRank) {
        const details = `receiver_rank ${parked.open.receiverRank} is not this worker's right neighbour (rank ${receiverRank}) in run '${runId}' epoch ${epoch}`;
        parked.finish(grpc.status.INVALID_ARGUMENT, details);
        return Promise.reject(new Error(details));
      }
      return Promise.resolve(parked);
    }
    if (this.wanted.has(key)) return Promise.reject(new Error(`ring of run '${runId}' epoch ${epoch} already formed on this worker`));
    return new Promise((resolve, reject) => this.wanted.set(key, { receiverRank, resolve, reject }));
  }

  /** The ring is over: refuse its calls from now on. */
  retire(runId: string, epoch: number): void {
    const key = keyOf(runId, epoch);
    this.retired.add(key);
    this.wanted.get(key)?.reject(new Error(`ring of run '${runId}' epoch ${epoch} closed`));
    this.wanted.delete(key);
    this.parked.get(key)?.finish(grpc.status.FAILED_PRECONDITION, `ring epoch ${epoch} of run '${runId}' is over on this worker`);
    this.parked.delete(key);
  }

  closeAll(): void {
    for (const w of this.wanted.values()) w.reject(new Error('collective server closed'));
    this.wanted.clear();
    for (const r of this.parked.values()) r.markGone(new Error('collective server closed'));
    this.parked.clear();
  }
}

function keyOf(runId: string, epoch: number): string {
  return `${runId}\u0000${epoch}`;
}

