/**
 * A worker must not hang when its coordinator dies or hangs: the watch counts the time since the
 * coordinator last answered (a heartbeat reply, a control message) and calls `onLost` once it has
 * been silent for cluster.coordinatorTimeoutMs; a broken control stream counts as lost at once.
 * worker/cli.ts then re-joins (a worker started by hand) or exits with COORDINATOR_LOST_EXIT_CODE.
 */
import * as grpc from '@grpc/grpc-js';
import { unlessFailed } from '../shared/runtime/unless_failed.js';

/** Exit code of a worker whose coordinator is gone (EX_TEMPFAIL: a supervisor may start it again). */
export const COORDINATOR_LOST_EXIT_CODE = 75;

/** The coordinator stopped answering (or its control stream broke) during the run. */
export class CoordinatorLostError extends Error {
  override name = 'CoordinatorLostError';
  constructor(readonly address: string, readonly step: number, problem: string, options?: ErrorOptions) {
    super(`the coordinator at ${address} is lost at step ${step}: ${problem}`, options);
  }
}

/** The coordinator could not be reached within the time given (Join retried until then). */
export class CoordinatorUnreachableError extends Error {
  override name = 'CoordinatorUnreachableError';
  constructor(readonly address: string, readonly waitedMs: number, problem: string, options?: ErrorOptions) {
    super(`cannot reach the coordinator at ${address} within ${waitedMs} ms: ${problem}`, options);
  }
}

export interface CoordinatorWatchOptions {
  address: string;
  timeoutMs: number;
  /** Called once, when the coordinator has been silent for timeoutMs. */
  onLost: () => void;
}

export class CoordinatorWatch {
  private last = Date.now();
  private lostAfterMs: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly o: CoordinatorWatchOptions) {
    this.timer = setInterval(() => this.check(), Math.max(50, Math.min(1000, o.timeoutMs / 4)));
    this.timer.unref();
  }

  /**
   * `call` (a call to the coordinator, e.g. a state upload, which has no deadline of its own), or
   * CoordinatorLostError once the coordinator is lost: the worker does not wait on a dead peer.
   */
  guard<T>(call: Promise<T>, step: number): Promise<T> {
    call.catch(() => undefined);   // if lost wins the race, the call's own failure comes later and is moot
    if (this.lost) return Promise.reject(this.explain(undefined, step));
    return unlessFailed(call, this.waiters, () => this.explain(undefined, step));
  }

  /** The coordinator answered. */
  contact(): void {
    this.last = Date.now();
  }

  /** Whether the watch declared the coordinator lost. */
  get lost(): boolean {
    return this.lostAfterMs !== undefined;
  }

  /**
   * What ended the control stream, as the worker should see it: CoordinatorLostError when the watch
   * fired or the stream broke (the coordinator went away); anything else unchanged.
   */
  explain(e: unknown, step: number): unknown {
    if (this.lostAfterMs !== undefined)
      return new CoordinatorLostError(this.o.address, step, `no answer for ${this.lostAfterMs} ms (cluster.coordinatorTimeoutMs ${this.o.timeoutMs})`, { cause: e });
    const code = (e as grpc.ServiceError | undefined)?.code;
    if (code === grpc.status.UNAVAILABLE || code === grpc.status.INTERNAL)
      return new CoordinatorLostError(this.o.address, step, `its control stream broke (${(e as grpc.ServiceError).details || (e as Error).message})`, { cause: e });
    return e;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const silent = Date.now() - this.last;
    if (this.lostAfterMs !== undefined || silent < this.o.timeoutMs) return;
    this.lostAfterMs = silent;
    clearInterval(this.timer);
    this.o.onLost();
    for (const w of this.waiters.splice(0)) w();
  }
}
