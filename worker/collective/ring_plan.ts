/**
 * The schedule of one ring all-reduce, the same on every rank: how a buffer of `length` elements is cut
 * into `worldSize` segments and each segment into chunks, and which chunks a rank receives, in order.
 *
 * Ring (rank r sends to r+1 and receives from r-1, mod N). Reduce-scatter hop h (0..N-2): rank r sends
 * segment r-h and receives segment r-1-h, adding it to its own; after the last hop rank r owns the
 * complete sum of segment r+1. All-gather hop h: rank r sends segment r+1-h (its own first, then what
 * it received) and receives segment r-h. Each rank sends and receives 2(N-1)/N of the buffer.
 */
import type { RingPhase__Output } from '../../proto/gen/dsi/v1/RingPhase.js';

export const REDUCE_SCATTER: RingPhase__Output = 'RING_PHASE_REDUCE_SCATTER';
export const ALL_GATHER: RingPhase__Output = 'RING_PHASE_ALL_GATHER';

/** Elements [start, start + length) of the fused buffer. */
export interface Span {
  start: number;
  length: number;
}

/** One chunk in the schedule. */
export interface ChunkRef extends Span {
  phase: RingPhase__Output;
  hop: number;
  segment: number;
  chunkIndex: number;
}

export class RingPlan {
  constructor(
    /** Elements of the fused buffer. */
    readonly length: number,
    readonly worldSize: number,
    /** Most elements per chunk (chunkBytes / bytes per wire element). */
    readonly chunkElements: number,
  ) {}

  /** Segment s: the first `length % N` segments get one element more (odd lengths, unequal chunks). */
  segment(s: number): Span {
    const N = this.worldSize;
    const base = Math.floor(this.length / N);
    const extra = this.length % N;
    return { start: s * base + Math.min(s, extra), length: base + (s < extra ? 1 : 0) };
  }

  /** The chunks of segment s, in order; none for an empty segment (length < worldSize). */
  chunks(s: number): Span[] {
    const seg = this.segment(s);
    const out: Span[] = [];
    for (let off = 0; off < seg.length; off += this.chunkElements)
      out.push({ start: seg.start + off, length: Math.min(this.chunkElements, seg.length - off) });
    return out;
  }

  /** Chunks `rank` receives from its left neighbour, in the order that neighbour sends them. */
  *incoming(rank: number): Generator<ChunkRef> {
    const N = this.worldSize;
    for (let hop = 0; hop < N - 1; hop++) yield* this.refs(REDUCE_SCATTER, hop, mod(rank - 1 - hop, N));
    for (let hop = 0; hop < N - 1; hop++) yield* this.refs(ALL_GATHER, hop, mod(rank - hop, N));
  }

  private *refs(phase: RingPhase__Output, hop: number, segment: number): Generator<ChunkRef> {
    const chunks = this.chunks(segment);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i] as Span; // i < chunks.length
      yield { phase, hop, segment, chunkIndex: i, start: c.start, length: c.length };
    }
  }
}

export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

export function describeChunk(c: Pick<ChunkRef, 'phase' | 'hop' | 'segment' | 'chunkIndex'>): string {
  const phase = c.phase === REDUCE_SCATTER ? 'reduce-scatter' : c.phase === ALL_GATHER ? 'all-gather' : c.phase;
  return `${phase} hop ${c.hop} segment ${c.segment} chunk ${c.chunkIndex}`;
}
