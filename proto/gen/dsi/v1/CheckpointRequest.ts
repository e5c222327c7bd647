// Original file: proto/dsi/v1/coordinator.proto


/**
 * Upload state for a checkpoint of step `step` (the worker finishes that step first).
 */
export interface CheckpointRequest {
  'checkpointId'?: (string);
  'step'?: (number);
  /**
   * Replicas are identical after each all-reduce: only the worker asked for it uploads the weights
   * (and the optimizer moments when include_optimizer), and its worker state (STATE_PART_WORKER).
   */
  'includeWeights'?: (boolean);
  'includeOptimizer'?: (boolean);
}

/**
 * Upload state for a checkpoint of step `step` (the worker finishes that step first).
 */
export interface CheckpointRequest__Output {
  'checkpointId': (string);
  'step': (number);
  /**
   * Replicas are identical after each all-reduce: only the worker asked for it uploads the weights
   * (and the optimizer moments when include_optimizer), and its worker state (STATE_PART_WORKER).
   */
  'includeWeights': (boolean);
  'includeOptimizer': (boolean);
}
