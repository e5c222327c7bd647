/**
 * Matches the Relay connections a worker's server accepts (its right neighbours') to the rings formed
 * in that worker, whichever comes first; shared by the gRPC and the raw-TCP transport. A connection
 * must carry its ring's secret (RingFormation.ring_secret): one that arrives after the ring formed
 * here is checked at once; one that arrives first waits (a few per ring, a bounded number in all)
 * and is checked when the ring forms. Without the secret it is refused and the ring keeps waiting
 * for the right one. The raw-TCP transport's port lookup (TcpEndpoint) is checked the same way:
 * `admits` answers once the ring formed here, so a caller without the secret learns nothing.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/runtime/log.js';
import { secretsEqual } from '../../shared/runtime/security.js';
import type { RelayOpen__Output } from '../../proto/gen/dsi/v1/RelayOpen.js';

/** The sending half of one Relay connection, as the registry sees it. */
export interface Relay {
  /** What the receiver said when it opened the connection. */
  readonly open: RelayOpen__Output;
  /** Who connected (host:port), for logs. */
  readonly from: string;
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

  constructor(readonly open: RelayOpen__Output, readonly from: string) {}

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

/** Connections waiting for their ring to form here, per ring and in all: a flood of opens cannot grow memory. */
export const MAX_PARKED_PER_RING = 4;
export const MAX_PARKED = 64;
/** Bounds of a RelayOpen: run ids are short names (coordinator/cluster/validate.ts), secrets 32 bytes. */
const MAX_RUN_ID_CHARS = 128;
const MAX_SECRET_BYTES = 64;
/** Reasons from the other side end up in errors and logs: one line's worth. */
export const MAX_REASON_CHARS = 2048;

/** Who asks to join a ring: a RelayOpen, or a TcpEndpoint lookup (the same three fields). */
export interface RingCredentials {
  runId: string;
  ringEpoch: number;
  ringSecret: Uint8Array;
}

/** Why a caller was not admitted: the status and details it is answered with. */
export interface RingRefusal {
  code: grpc.status;
  details: string;
}

/**
 * Connections a worker refused since it started, by kind: reported with every step's telemetry, so
 * that the coordinator's /metrics counts them (dsi_worker_refused_connections).
 */
export interface RefusalCounts {
  /** TLS handshakes that failed (another CA, no certificate, not TLS), on the gRPC and the raw-TCP port. */
  tlsHandshakes: number;
  /** Ring connections and port lookups refused: a wrong or missing ring secret, malformed frames, a flood. */
  ringConnections: number;
}

export function noRefusals(): RefusalCounts {
  return { tlsHandshakes: 0, ringConnections: 0 };
}

/** `given` is the ring's secret; a ring formed without one (tests, benchmarks) accepts any. */
function secretOk(given: Uint8Array, expected: Uint8Array): boolean {
  return expected.byteLength === 0 || secretsEqual(given, expected);
}

/** Matches Relay calls to the rings of this process, whichever of the two arrives first. */
export class RelayRegistry<R extends Relay> {
  private readonly parked = new Map<string, R[]>();
  /** Secrets of the rings formed here and not yet retired. */
  private readonly secrets = new Map<string, Uint8Array>();
  private readonly wanted = new Map<string, { receiverRank: number; resolve: (r: R) => void; reject: (e: Error) => void }>();
  private readonly latestEpoch = new Map<string, number>();
  private readonly retired = new Set<string>();
  /** Lookups (TcpEndpoint) waiting for their ring to form here: bounded as parked connections are. */
  private readonly lookups = new Map<string, Array<() => void>>();

  constructor(private readonly log: Logger | undefined, private readonly counts: RefusalCounts = noRefusals()) {}

  /** A Relay call arrived (from the handler). */
  offer(relay: R): void {
    const { runId, ringEpoch, receiverRank } = relay.open;
    const early = this.check(relay.open, 'RelayOpen', relay.from);
    if (early) { relay.finish(early.code, early.details); return; }
    const key = keyOf(runId, ringEpoch);
    const secret = this.secrets.get(key);
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
      return;
    }
    if (secret !== undefined) {
      relay.finish(grpc.status.ALREADY_EXISTS, `a Relay call for run '${runId}' epoch ${ringEpoch} is already open`);
      return;
    }
    const list = this.parked.get(key) ?? [];
    const total = [...this.parked.values()].reduce((n, l) => n + l.length, 0);
    if (list.length >= MAX_PARKED_PER_RING || total >= MAX_PARKED) {
      this.log?.warn({ from: relay.from, runId: runId.slice(0, 64), ringEpoch, parked: total }, 'ring connection refused: too many waiting for their ring');
      this.counts.ringConnections += 1;
      relay.finish(grpc.status.RESOURCE_EXHAUSTED, `too many Relay calls wait for rings that have not formed on this worker (${total})`);
      return;
    }
    list.push(relay);
    this.parked.set(key, list);
    relay.onGone(() => this.unpark(key, relay));
    this.log?.debug({ runId, ringEpoch, receiverRank }, 'relay parked until its ring forms here');
  }

  /** The ring (runId, epoch) formed here: its right neighbour's Relay call (carrying `secret`), now or when it comes. */
  want(runId: string, epoch: number, receiverRank: number, secret: Uint8Array = new Uint8Array(0)): Promise<R> {
    const key = keyOf(runId, epoch);
    if (epoch > (this.latestEpoch.get(runId) ?? -1)) this.latestEpoch.set(runId, epoch);
    if (this.secrets.has(key)) return Promise.reject(new Error(`ring of run '${runId}' epoch ${epoch} already formed on this worker`));
    this.secrets.set(key, secret);
    for (const wake of this.lookups.get(key) ?? []) wake();
    for (const [k, list] of this.parked) {
      if (list[0]?.open.runId === runId && list[0].open.ringEpoch < epoch) {
        for (const r of list) r.finish(grpc.status.FAILED_PRECONDITION, `ring epoch ${r.open.ringEpoch} of run '${runId}' is over on this worker`);
        this.parked.delete(k);
      }
    }
    const waiting = this.parked.get(key) ?? [];
    this.parked.delete(key);
    const [parked, ...others] = waiting.filter((r) => secretOk(r.open.ringSecret, secret));
    for (const r of waiting) if (r !== parked && !others.includes(r)) this.refuse(r);
    for (const r of others) r.finish(grpc.status.ALREADY_EXISTS, `a Relay call for run '${runId}' epoch ${epoch} is already open`);
    if (parked) {
      if (parked.open.receiverRank !== receiverRank) {
        const details = `receiver_rank ${parked.open.receiverRank} is not this worker's right neighbour (rank ${receiverRank}) in run '${runId}' epoch ${epoch}`;
        parked.finish(grpc.status.INVALID_ARGUMENT, details);
        return Promise.reject(new Error(details));
      }
      return Promise.resolve(parked);
    }
    return new Promise((resolve, reject) => this.wanted.set(key, { receiverRank, resolve, reject }));
  }

  /** The ring is over: refuse its calls from now on. */
  retire(runId: string, epoch: number): void {
    const key = keyOf(runId, epoch);
    this.retired.add(key);
    this.secrets.delete(key);
    this.wanted.get(key)?.reject(new Error(`ring of run '${runId}' epoch ${epoch} closed`));
    this.wanted.delete(key);
    for (const r of this.parked.get(key) ?? []) r.finish(grpc.status.FAILED_PRECONDITION, `ring epoch ${epoch} of run '${runId}' is over on this worker`);
    this.parked.delete(key);
    for (const wake of this.lookups.get(key) ?? []) wake();
  }

  closeAll(): void {
    for (const list of this.lookups.values()) for (const wake of list) wake();
    for (const w of this.wanted.values()) w.reject(new Error('collective server closed'));
    this.wanted.clear();
    for (const list of this.parked.values()) for (const r of list) r.markGone(new Error('collective server closed'));
    this.parked.clear();
  }

  /**
   * Whether `c` may learn about ring (runId, epoch) here (TcpEndpoint): undefined once the ring
   * formed and `c` carries its secret; a refusal when it does not, when the ring is over, when too
   * many lookups wait already, or when the ring has not formed within `waitMs`.
   */
  async admits(c: RingCredentials, from: string, waitMs: number): Promise<RingRefusal | undefined> {
    const key = keyOf(c.runId, c.ringEpoch);
    if (!this.secrets.has(key)) {
      const early = this.check(c, 'TcpEndpoint', from);
      if (early) return early;
      const list = this.lookups.get(key) ?? [];
      const total = [...this.lookups.values()].reduce((n, l) => n + l.length, 0);
      if (list.length >= MAX_PARKED_PER_RING || total >= MAX_PARKED) {
        this.log?.warn({ from, runId: c.runId.slice(0, 64), ringEpoch: c.ringEpoch, waiting: total }, 'ring port lookup refused: too many waiting for their ring');
        this.counts.ringConnections += 1;
        return { code: grpc.status.RESOURCE_EXHAUSTED, details: `too many lookups wait for rings that have not formed on this worker (${total})` };
      }
      let wake = (): void => undefined;
      const formed = new Promise<void>((resolve) => { wake = resolve; });
      list.push(wake);
      this.lookups.set(key, list);
      const timer = setTimeout(wake, waitMs);
      await formed;
      clearTimeout(timer);
      list.splice(list.indexOf(wake), 1);
      if (list.length === 0) this.lookups.delete(key);
    }
    return this.check(c, 'TcpEndpoint', from) ?? (this.secrets.has(key) ? undefined
      : { code: grpc.status.UNAVAILABLE, details: `ring of run '${c.runId}' epoch ${c.ringEpoch} has not formed on this worker within ${waitMs} ms` });
  }

  /** The checks that need no waiting: bounds, a ring that is over, a ring formed here with another secret. */
  private check(c: RingCredentials, what: string, from: string): RingRefusal | undefined {
    const { runId, ringEpoch } = c;
    if (runId.length === 0 || runId.length > MAX_RUN_ID_CHARS || c.ringSecret.byteLength > MAX_SECRET_BYTES)
      return { code: grpc.status.INVALID_ARGUMENT, details: `${what}: run_id of ${runId.length} characters (1 to ${MAX_RUN_ID_CHARS}) or ring_secret of ${c.ringSecret.byteLength} bytes (at most ${MAX_SECRET_BYTES})` };
    const key = keyOf(runId, ringEpoch);
    if (this.retired.has(key) || ringEpoch < (this.latestEpoch.get(runId) ?? 0))
      return { code: grpc.status.FAILED_PRECONDITION, details: `ring epoch ${ringEpoch} of run '${runId}' is over on this worker` };
    const secret = this.secrets.get(key);
    if (secret !== undefined && !secretOk(c.ringSecret, secret)) return this.refusal(c, from);
    return undefined;
  }

  /** Without its ring's secret: refused, logged with who it came from (never the secret). */
  private refusal(c: RingCredentials, from: string): RingRefusal {
    this.log?.warn({ from, runId: c.runId.slice(0, 64), ringEpoch: c.ringEpoch, secretBytes: c.ringSecret.byteLength }, 'ring connection refused: wrong or missing ring secret');
    this.counts.ringConnections += 1;
    return { code: grpc.status.PERMISSION_DENIED, details: `ring_secret: not the secret of run '${c.runId}' epoch ${c.ringEpoch} (only the ring's members have it)` };
  }

  private refuse(relay: R): void {
    const r = this.refusal(relay.open, relay.from);
    relay.finish(r.code, r.details);
  }

  private unpark(key: string, relay: R): void {
    const list = this.parked.get(key);
    if (!list) return;
    const i = list.indexOf(relay);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.parked.delete(key);
  }
}

function keyOf(runId: string, epoch: number): string {
  return `${runId}\u0000${epoch}`;
}

