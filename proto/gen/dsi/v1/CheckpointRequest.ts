// Original file: proto/dsi/v1/coordinator.proto


/**
 * Upload state for a checkpoint of step `step` (the worker finishes that step first).
 */
export interface CheckpointRequest {
  'checkpointId'?: (string);
  'step'?: (number);
  /**
   * Replicas are identical after each all-reduce: only the worker asked for it uploads the weights
   * (and the optimizer moments when include_optimizer); every worker uploads its data cursor and RNG.
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
   * (and the optimizer moments when include_optimizer); every worker uploads its data cursor and RNG.
   */
  'includeWeights': (boolean);
  'includeOptimizer': (boolean);
}
