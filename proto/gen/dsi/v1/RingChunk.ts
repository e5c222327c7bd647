// Original file: proto/dsi/v1/collective.proto

import type { RingPhase as _dsi_v1_RingPhase, RingPhase__Output as _dsi_v1_RingPhase__Output } from '../../dsi/v1/RingPhase.js';
import type { WireDtype as _dsi_v1_WireDtype, WireDtype__Output as _dsi_v1_WireDtype__Output } from '../../dsi/v1/WireDtype.js';

/**
 * One piece of one segment of one all-reduce, from ring position `ring_position` to its right neighbour.
 */
export interface RingChunk {
  'runId'?: (string);
  'ringEpoch'?: (number);
  /**
   * Optimizer step the all-reduce belongs to; both sides must agree.
   */
  'step'?: (number);
  'phase'?: (_dsi_v1_RingPhase);
  /**
   * Rank of the sender in the ring.
   */
  'ringPosition'?: (number);
  /**
   * 0 .. world_size-2 within the phase.
   */
  'hop'?: (number);
  /**
   * Which of the world_size segments of the fused buffer.
   */
  'segment'?: (number);
  /**
   * Index of this chunk inside its segment (segments are cut into chunks of at most chunk_bytes).
   */
  'chunkIndex'?: (number);
  'dtype'?: (_dsi_v1_WireDtype);
  /**
   * Elements in `data`; data holds element_count * (4 or 2) bytes.
   */
  'elementCount'?: (number);
  /**
   * All-gather only: the owner saw a non-finite value (Inf/NaN) in this chunk's final mean.
   */
  'nonfinite'?: (boolean);
  /**
   * Which bucket of the step's gradient (shared/training/gradient_buckets.ts): a step reduces its
   * buckets one after another, in the same order on every rank.
   */
  'bucket'?: (number);
  /**
   * Raw little-endian elements in `dtype`. Kept the last field: the encoder appends it after the
   * other fields without re-copying it through the protobuf writer.
   */
  'data'?: (Buffer | Uint8Array | string);
}

/**
 * One piece of one segment of one all-reduce, from ring position `ring_position` to its right neighbour.
 */
export interface RingChunk__Output {
  'runId': (string);
  'ringEpoch': (number);
  /**
   * Optimizer step the all-reduce belongs to; both sides must agree.
   */
  'step': (number);
  'phase': (_dsi_v1_RingPhase__Output);
  /**
   * Rank of the sender in the ring.
   */
  'ringPosition': (number);
  /**
   * 0 .. world_size-2 within the phase.
   */
  'hop': (number);
  /**
   * Which of the world_size segments of the fused buffer.
   */
  'segment': (number);
  /**
   * Index of this chunk inside its segment (segments are cut into chunks of at most chunk_bytes).
   */
  'chunkIndex': (number);
  'dtype': (_dsi_v1_WireDtype__Output);
  /**
   * Elements in `data`; data holds element_count * (4 or 2) bytes.
   */
  'elementCount': (number);
  /**
   * All-gather only: the owner saw a non-finite value (Inf/NaN) in this chunk's final mean.
   */
  'nonfinite': (boolean);
  /**
   * Which bucket of the step's gradient (shared/training/gradient_buckets.ts): a step reduces its
   * buckets one after another, in the same order on every rank.
   */
  'bucket': (number);
  /**
   * Raw little-endian elements in `dtype`. Kept the last field: the encoder appends it after the
   * other fields without re-copying it through the protobuf writer.
   */
  'data': (Buffer);
}
