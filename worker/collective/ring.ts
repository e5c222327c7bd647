/**
 * Ring all-reduce (reduce-scatter, then all-gather, as in NCCL and Horovod) of one fused Float32Array
 * of gradients, against a `Peer` transport: the algorithm never sees a socket (grpc_peer.ts is the
 * gRPC transport). The result is the element-wise mean over the ranks, identical on every rank.
 *
 * One call, on rank r of N (the schedule is in ring_plan.ts):
 *   1) queue segment r's chunks for the right neighbour (encoded when the transport has room);
 *   2) for every chunk from the left neighbour, in order: check it against the schedule, then
 *      - reduce-scatter: add it into the buffer and queue the partial sum onwards, or, on the last hop,
 *        divide by N, round through the wire format and queue the finished chunk for the all-gather;
 *      - all-gather: copy it into the buffer and forward the received bytes unchanged;
 *   3) wait until every queued chunk has left.
 * Pipelining: chunk k+1 is on the wire while chunk k is being reduced (send_queue.ts, `pipelineDepth`).
 * Overflow: the owner of each finished chunk marks whether it holds Inf/NaN; the mark travels with the
 * all-gather, so every rank ORs the same marks and returns the same flag. Inf/NaN in any input (or a
 * partial sum beyond the wire format's range) propagates into that chunk's final value, so the flag is
 * "some rank saw a non-finite value": the caller skips the step everywhere.
 */
import type { Logger } from '../../shared/runtime/log.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import type { RingChunk__Output } from '../../proto/gen/dsi/v1/RingChunk.js';
import type { RingPhase__Output } from '../../proto/gen/dsi/v1/RingPhase.js';
import { RingClosedError, RingPeerError, RingProtocolError, RingTimeoutError } from './errors.js';
import { ALL_GATHER, type ChunkRef, describeChunk, mod, REDUCE_SCATTER, RingPlan } from './ring_plan.js';
import { SendQueue } from './send_queue.js';
import {
  accumulate, assertLittleEndian, bytesPerElement, decodeInto, divideAndCheck, encode, hasNonFinite, WIRE_DTYPES, WIRE_NAMES,
  wireFromDtype, type WireName,
} from './wire.js';

/** A chunk as the ring hands it to the transport: every field set, raw bytes in `data`. */
export type OutgoingChunk = Omit<RingChunk__Output, 'data'> & { data: Uint8Array };

/** What the ring needs from a transport. */
export interface Peer {
  /**
   * Sends one chunk to the right neighbour, after every chunk sent before it. Resolves when the
   * transport is done with `chunk.data` (it may read the bytes until then); rejects when the
   * neighbour is gone or aborted the ring.
   */
  send(chunk: OutgoingChunk): Promise<void>;
  /** Chunks from the left neighbour in the order it sent them, over all all-reduces of the ring. */
  receive(): AsyncIterator<RingChunk__Output>;
  /** Releases the transport; with a reason, tells the neighbours why this rank gave up on the ring. */
  close(reason?: Error): Promise<void>;
}

/** 1 MiB: large enough to amortise per-message costs, small enough to pipeline 64 MiB buffers. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** gRPC's default max message is 4 MiB; leave room for the chunk's other fields. */
export const MAX_CHUNK_BYTES = 4 * (1 << 20) - (1 << 16);
/** 30 s: a step of a t5-base on wasm takes seconds; a silent neighbour for 30 s is dead. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Chunks in the transport at once; 4 x 1 MiB keeps a loopback link busy (see coordinator/bench/allreduce.ts). */
export const DEFAULT_PIPELINE_DEPTH = 4;

export interface RingOptions {
  /** Run the ring belongs to; checked in every chunk. */
  runId: string;
  /** Ring generation (bumped on each re-formation); checked in every chunk. @default 0 */
  epoch?: number;
  rank: number;
  worldSize: number;
  /** Default wire format of allReduceMean. @default 'fp32' */
  wire?: WireName;
  /** Wire bytes per chunk, at most MAX_CHUNK_BYTES. @default DEFAULT_CHUNK_BYTES */
  chunkBytes?: number;
  /** Longest wait for the left neighbour's next chunk, or for the right one to take ours. @default DEFAULT_TIMEOUT_MS */
  timeoutMs?: number;
  /** Chunks handed to the transport and not yet sent. @default DEFAULT_PIPELINE_DEPTH */
  pipelineDepth?: number;
  log?: Logger;
}

export type ResolvedRingOptions = Required<Omit<RingOptions, 'log'>> & Pick<RingOptions, 'log'>;

export function parseRingOptions(o: RingOptions): ResolvedRingOptions {
  const r: ResolvedRingOptions = {
    runId: o.runId, epoch: o.epoch ?? 0, rank: o.rank, worldSize: o.worldSize, wire: o.wire ?? 'fp32',
    chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK_BYTES, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    pipelineDepth: o.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH, log: o.log,
  };
  const int = (key: keyof ResolvedRingOptions, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`ring.${key}`, `${v} is not an integer in [${min}, ${max}]`);
  };
  int('worldSize', r.worldSize, 1);
  int('rank', r.rank, 0, r.worldSize - 1);
  int('epoch', r.epoch, 0);
  int('chunkBytes', r.chunkBytes, 4, MAX_CHUNK_BYTES);
  int('timeoutMs', r.timeoutMs, 1);
  int('pipelineDepth', r.pipelineDepth, 1);
  if (!WIRE_NAMES.includes(r.wire)) throw new ConfigError('ring.wire', `'${String(r.wire)}' is not one of ${WIRE_NAMES.join(', ')}`);
  return r;
}

export interface AllReduceOptions {
  /** Optimizer step; every rank must pass the same one. */
  step: number;
  /** Wire format for this call; every rank must pass the same one. @default the ring's `wire` */
  wire?: WireName;
  /** Bucket of the step's gradient this call reduces; every rank must pass the same one. @default 0 */
  bucket?: number;
}

export interface AllReduceResult {
  /** Some rank saw Inf/NaN (or the wire format overflowed): the same on every rank; skip the step. */
  overflow: boolean;
  elapsedMs: number;
  /** Part of elapsedMs spent waiting for the left neighbour (the heartbeat's "waiting"). */
  waitMs: number;
  bytesSent: number;
  bytesReceived: number;
}

export class Ring {
  readonly options: ResolvedRingOptions;
  private readonly incoming: AsyncIterator<RingChunk__Output> | undefined;
  private busy = false;
  private failure: Error | undefined;
  private isClosed = false;
  private readonly closedWaiters: Array<(v: void | Error) => void> = [];

  constructor(private readonly peer: Peer, options: RingOptions) {
    assertLittleEndian();
    this.options = parseRingOptions(options);
    this.incoming = this.options.worldSize > 1 ? peer.receive() : undefined;
  }

  get left(): number { return mod(this.options.rank - 1, this.options.worldSize); }
  get right(): number { return mod(this.options.rank + 1, this.options.worldSize); }

  /**
   * Replaces `buffer` by the element-wise mean over all ranks (in place), identical on every rank.
   * Calls must not overlap. On failure `buffer` holds partial sums (discard it) and the ring is closed.
   */
  async allReduceMean(buffer: Float32Array, options: AllReduceOptions): Promise<AllReduceResult> {
    const { rank } = this.options;
    if (this.isClosed || this.failure) throw new RingClosedError(rank, { cause: this.failure });
    if (this.busy) throw new Error(`rank ${rank}: allReduceMean(step ${options.step}) called while another all-reduce is running`);
    this.busy = true;
    try {
      return await this.run(buffer, { step: options.step, bucket: options.bucket ?? 0 }, options.wire ?? this.options.wire);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.failure ??= error;
      this.options.log?.warn({ step: options.step, err: error }, 'all-reduce failed; ring closed');
      await this.shutdown(error);
      throw error;
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    await this.shutdown(undefined);
  }

  /** Resolves (never rejects) when the ring is closed: undefined after close(), else the failure. */
  closed(): Promise<void | Error> {
    if (this.isClosed) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private async shutdown(reason: Error | undefined): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.peer.close(reason);
    for (const w of this.closedWaiters.splice(0)) w(reason);
  }

  private async run(buffer: Float32Array, at: { step: number; bucket: number }, wire: WireName): Promise<AllReduceResult> {
    const { worldSize: N, rank, timeoutMs, chunkBytes, pipelineDepth } = this.options;
    const { step } = at;
    const t0 = performance.now();
    if (N === 1 || buffer.length === 0) {
      return { overflow: hasNonFinite(buffer), elapsedMs: performance.now() - t0, waitMs: 0, bytesSent: 0, bytesReceived: 0 };
    }
    const plan = new RingPlan(buffer.length, N, Math.floor(chunkBytes / bytesPerElement(wire)));
    const header = this.headerMaker(at, wire);
    const queue = new SendQueue({
      send: (chunk) => this.peer.send(chunk),
      depth: pipelineDepth,
      timeoutMs,
      timeoutError: (c) => new RingTimeoutError(this.right, step, timeoutMs, `it to take ${describeChunk(c)}`),
      sendError: (c, cause) => new RingPeerError(this.right, step, `cannot send ${describeChunk(c)}: ${messageOf(cause)}`, { cause }),
    });
    const sendFailure = queue.failed();
    sendFailure.catch(() => undefined); // observed below through Promise.race; never unhandled
    let overflow = false;
    let waitMs = 0;
    let bytesReceived = 0;

    // 1) reduce-scatter hop 0: this rank's own segment
    plan.chunks(rank).forEach((c, i) => {
      const values = buffer.subarray(c.start, c.start + c.length);
      queue.push(() => ({ ...header(REDUCE_SCATTER, 0, rank, i, c.length, false), data: encode(wire, values) }));
    });

    // 2) every chunk from the left neighbour, in the order it sends them
    for (const want of plan.incoming(rank)) {
      const tWait = performance.now();
      const chunk = await this.receiveChunk(step, want, sendFailure);
      waitMs += performance.now() - tWait;
      this.check(chunk, want, at, wire);
      bytesReceived += chunk.data.byteLength;
      const values = buffer.subarray(want.start, want.start + want.length); // (want.length,)
      const { segment, chunkIndex } = want;
      if (want.phase === REDUCE_SCATTER) {
        accumulate(wire, values, chunk.data); // fp32 accumulation of the decoded partial sum
        if (want.hop < N - 2) {
          // read when sent: this segment is not written again before the right neighbour has it
          queue.push(() => ({ ...header(REDUCE_SCATTER, want.hop + 1, segment, chunkIndex, want.length, false), data: encode(wire, values) }));
        } else {
          // last hop: this rank owns the complete sum of `segment`
          let nonfinite = divideAndCheck(values, N);
          const bytes = encode(wire, values);
          if (wire !== 'fp32') {
            decodeInto(wire, values, bytes); // keep exactly what the other ranks will decode
            nonfinite = hasNonFinite(values); // the wire format may have overflowed
          }
          overflow ||= nonfinite;
          queue.push(() => ({ ...header(ALL_GATHER, 0, segment, chunkIndex, want.length, nonfinite), data: bytes }));
        }
      } else {
        decodeInto(wire, values, chunk.data);
        overflow ||= chunk.nonfinite;
        if (want.hop < N - 2) {
          const { data, nonfinite } = chunk;
          queue.push(() => ({ ...header(ALL_GATHER, want.hop + 1, segment, chunkIndex, want.length, nonfinite), data }));
        }
      }
    }

    // 3) the last chunks leave; afterwards the caller may change `buffer` again
    await Promise.race([queue.drain(), sendFailure]);
    return { overflow, elapsedMs: performance.now() - t0, waitMs, bytesSent: queue.bytesSent, bytesReceived };
  }

  private headerMaker({ step, bucket }: { step: number; bucket: number }, wire: WireName) {
    const { runId, epoch, rank } = this.options;
    const dtype = WIRE_DTYPES[wire];
    return (phase: RingPhase__Output, hop: number, segment: number, chunkIndex: number, elementCount: number, nonfinite: boolean) =>
      ({ runId, ringEpoch: epoch, step, bucket, phase, ringPosition: rank, hop, segment, chunkIndex, dtype, elementCount, nonfinite });
  }

  /** The next chunk from the left, or RingTimeoutError naming it; a send failure interrupts the wait. */
  private async receiveChunk(step: number, want: ChunkRef, sendFailure: Promise<never>): Promise<RingChunk__Output> {
    const { timeoutMs } = this.options;
    const incoming = this.incoming as AsyncIterator<RingChunk__Output>; // set whenever worldSize > 1
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RingTimeoutError(this.left, step, timeoutMs, describeChunk(want))), timeoutMs);
    });
    let next: IteratorResult<RingChunk__Output>;
    try {
      next = await Promise.race([incoming.next(), timeout, sendFailure]);
    } catch (e) {
      if (e instanceof RingTimeoutError || e instanceof RingPeerError) throw e;
      throw new RingPeerError(this.left, step, `stream failed while waiting for ${describeChunk(want)}: ${messageOf(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    if (next.done) throw new RingPeerError(this.left, step, `closed its stream before sending ${describeChunk(want)}`);
    return next.value;
  }

  /** Throws RingProtocolError (naming the left rank and this step) unless `c` is exactly `want`. */
  private check(c: RingChunk__Output, want: ChunkRef, { step, bucket }: { step: number; bucket: number }, wire: WireName): void {
    const { runId, epoch } = this.options;
    const fail = (problem: string): never => { throw new RingProtocolError(this.left, step, problem); };
    if (c.runId !== runId || c.ringEpoch !== epoch) fail(`it belongs to run '${c.runId}' epoch ${c.ringEpoch}, this ring is run '${runId}' epoch ${epoch}`);
    if (c.ringPosition !== this.left) fail(`it says it comes from ring position ${c.ringPosition}`);
    if (c.step !== step) fail(`it is for step ${c.step}, this rank is at step ${step} (the ranks disagree on the step)`);
    if (c.bucket !== bucket) fail(`it is for bucket ${c.bucket} of the gradient, this rank reduces bucket ${bucket} (the ranks cut the gradient into different buckets)`);
    if (c.phase !== want.phase || c.hop !== want.hop || c.segment !== want.segment || c.chunkIndex !== want.chunkIndex)
      fail(`it is ${describeChunk(c)}, expected ${describeChunk(want)}`);
    const got = wireFromDtype(c.dtype);
    if (got !== wire) fail(`wire format ${got ?? c.dtype}, expected ${wire} (the ranks disagree on the wire format)`);
    if (c.elementCount !== want.length)
      fail(`${describeChunk(c)} has ${c.elementCount} elements, expected ${want.length} (the ranks' buffers differ in length)`);
    const bytes = want.length * bytesPerElement(wire);
    if (c.data.byteLength !== bytes) fail(`${describeChunk(c)} carries ${c.data.byteLength} bytes, expected ${bytes} (${want.length} x ${wire})`);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
