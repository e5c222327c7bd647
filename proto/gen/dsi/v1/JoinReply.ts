// Original file: proto/dsi/v1/coordinator.proto

import type { RingFormation as _dsi_v1_RingFormation, RingFormation__Output as _dsi_v1_RingFormation__Output } from '../../dsi/v1/RingFormation.js';
import type { RunPlan as _dsi_v1_RunPlan, RunPlan__Output as _dsi_v1_RunPlan__Output } from '../../dsi/v1/RunPlan.js';

export interface JoinReply {
  /**
   * Identifier of the run (also in every RingChunk and in the NATS subjects dsi.<run_id>.*).
   */
  'runId'?: (string);
  /**
   * This worker's rank, 0 .. world_size-1.
   */
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * The ring to form now (addresses in ring order, index = rank).
   */
  'ring'?: (_dsi_v1_RingFormation | null);
  /**
   * First step the worker will be asked to run (non-zero when a run resumes from a checkpoint).
   */
  'step'?: (number);
  'heartbeatIntervalMs'?: (number);
  /**
   * Without a heartbeat for this long the worker is dropped and the ring re-formed.
   */
  'livenessTimeoutMs'?: (number);
  /**
   * What every worker trains: the run configuration, the data, where the run starts.
   */
  'plan'?: (_dsi_v1_RunPlan | null);
  /**
   * This worker's membership secret (32 random bytes): every later call (Heartbeat, Control,
   * UploadState, Leave) carries it, and the coordinator checks it against the worker id and rank.
   */
  'memberSecret'?: (Buffer | Uint8Array | string);
}

export interface JoinReply__Output {
  /**
   * Identifier of the run (also in every RingChunk and in the NATS subjects dsi.<run_id>.*).
   */
  'runId': (string);
  /**
   * This worker's rank, 0 .. world_size-1.
   */
  'rank': (number);
  'worldSize': (number);
  /**
   * The ring to form now (addresses in ring order, index = rank).
   */
  'ring': (_dsi_v1_RingFormation__Output | null);
  /**
   * First step the worker will be asked to run (non-zero when a run resumes from a checkpoint).
   */
  'step': (number);
  'heartbeatIntervalMs': (number);
  /**
   * Without a heartbeat for this long the worker is dropped and the ring re-formed.
   */
  'livenessTimeoutMs': (number);
  /**
   * What every worker trains: the run configuration, the data, where the run starts.
   */
  'plan': (_dsi_v1_RunPlan__Output | null);
  /**
   * This worker's membership secret (32 random bytes): every later call (Heartbeat, Control,
   * UploadState, Leave) carries it, and the coordinator checks it against the worker id and rank.
   */
  'memberSecret': (Buffer);
}
