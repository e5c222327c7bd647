// Original file: proto/dsi/v1/collective.proto

/**
 * Which half of the ring all-reduce a chunk belongs to (as in NCCL and Horovod).
 */
export const RingPhase = {
  RING_PHASE_UNSPECIFIED: 'RING_PHASE_UNSPECIFIED',
  /**
   * Partial sums travel right; after world_size-1 hops each rank owns one fully reduced segment.
   */
  RING_PHASE_REDUCE_SCATTER: 'RING_PHASE_REDUCE_SCATTER',
  /**
   * Owners' final segments travel right unchanged until every rank holds all of them.
   */
  RING_PHASE_ALL_GATHER: 'RING_PHASE_ALL_GATHER',
} as const;

/**
 * Which half of the ring all-reduce a chunk belongs to (as in NCCL and Horovod).
 */
export type RingPhase =
  | 'RING_PHASE_UNSPECIFIED'
  | 0
  /**
   * Partial sums travel right; after world_size-1 hops each rank owns one fully reduced segment.
   */
  | 'RING_PHASE_REDUCE_SCATTER'
  | 1
  /**
   * Owners' final segments travel right unchanged until every rank holds all of them.
   */
  | 'RING_PHASE_ALL_GATHER'
  | 2

/**
 * Which half of the ring all-reduce a chunk belongs to (as in NCCL and Horovod).
 */
export type RingPhase__Output = typeof RingPhase[keyof typeof RingPhase]
