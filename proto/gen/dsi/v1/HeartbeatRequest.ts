// Original file: proto/dsi/v1/coordinator.proto

import type { WorkerMetrics as _dsi_v1_WorkerMetrics, WorkerMetrics__Output as _dsi_v1_WorkerMetrics__Output } from '../../dsi/v1/WorkerMetrics.js';
import type { RingFailure as _dsi_v1_RingFailure, RingFailure__Output as _dsi_v1_RingFailure__Output } from '../../dsi/v1/RingFailure.js';
import type { StepProgress as _dsi_v1_StepProgress, StepProgress__Output as _dsi_v1_StepProgress__Output } from '../../dsi/v1/StepProgress.js';

export interface HeartbeatRequest {
  'runId'?: (string);
  'workerId'?: (string);
  'rank'?: (number);
  /**
   * Last step this worker completed (applied or skipped).
   */
  'step'?: (number);
  'metrics'?: (_dsi_v1_WorkerMetrics | null);
  /**
   * Hex checksum of this worker's parameters after `step`, sent every checksum_every steps (empty
   * otherwise); the coordinator stops the run, naming the ranks, when replicas disagree.
   */
  'paramChecksum'?: (string);
  /**
   * Dynamic loss scale in force after `step` (fp16/bf16 wire; 1 with fp32).
   */
  'lossScale'?: (number | string);
  /**
   * Ring epoch the worker is on; the coordinator counts steps and failures of older epochs as
   * liveness only (they belong to a ring that no longer exists).
   */
  'ringEpoch'?: (number);
  /**
   * Set while this worker's last all-reduce failed: it applied nothing and waits for a new RingFormation.
   */
  'ringFailure'?: (_dsi_v1_RingFailure | null);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret'?: (Buffer | Uint8Array | string);
  /**
   * What the step in flight is doing when this heartbeat left. The step computes on a thread of its
   * own, so heartbeats keep coming during a long step: a worker that answers is slow, not dead.
   */
  'progress'?: (_dsi_v1_StepProgress | null);
}

export interface HeartbeatRequest__Output {
  'runId': (string);
  'workerId': (string);
  'rank': (number);
  /**
   * Last step this worker completed (applied or skipped).
   */
  'step': (number);
  'metrics': (_dsi_v1_WorkerMetrics__Output | null);
  /**
   * Hex checksum of this worker's parameters after `step`, sent every checksum_every steps (empty
   * otherwise); the coordinator stops the run, naming the ranks, when replicas disagree.
   */
  'paramChecksum': (string);
  /**
   * Dynamic loss scale in force after `step` (fp16/bf16 wire; 1 with fp32).
   */
  'lossScale': (number);
  /**
   * Ring epoch the worker is on; the coordinator counts steps and failures of older epochs as
   * liveness only (they belong to a ring that no longer exists).
   */
  'ringEpoch': (number);
  /**
   * Set while this worker's last all-reduce failed: it applied nothing and waits for a new RingFormation.
   */
  'ringFailure': (_dsi_v1_RingFailure__Output | null);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret': (Buffer);
  /**
   * What the step in flight is doing when this heartbeat left. The step computes on a thread of its
   * own, so heartbeats keep coming during a long step: a worker that answers is slow, not dead.
   */
  'progress': (_dsi_v1_StepProgress__Output | null);
}
