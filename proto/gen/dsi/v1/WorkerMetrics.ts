// Original file: proto/dsi/v1/coordinator.proto


/**
 * Averages over the steps since the previous heartbeat.
 */
export interface WorkerMetrics {
  /**
   * Training examples and (input + target) tokens processed by this worker per second.
   */
  'samplesPerSec'?: (number | string);
  'tokensPerSec'?: (number | string);
  /**
   * Wall time of one step, split into its parts (they add up to step_ms):
   */
  'stepMs'?: (number | string);
  /**
   * forward + backward + optimizer update on this worker;
   */
  'computeMs'?: (number | string);
  /**
   * the all-reduce while it had work to do (encode, reduce, send);
   */
  'allReduceMs'?: (number | string);
  /**
   * the all-reduce while it waited for its left neighbour's chunks (stragglers show up here).
   */
  'waitingMs'?: (number | string);
  /**
   * Training loss of the last step (NaN if none yet) and the global gradient norm before clipping.
   */
  'loss'?: (number | string);
  'gradNorm'?: (number | string);
  /**
   * Steps skipped because the all-reduce reported a non-finite gradient, since the run started.
   */
  'skippedSteps'?: (number);
  /**
   * Resident memory of the worker process.
   */
  'rssBytes'?: (number | string);
  /**
   * Bytes held in TensorFlow.js tensors (tf.memory().numBytes) after the step.
   */
  'tensorBytes'?: (number | string);
}

/**
 * Averages over the steps since the previous heartbeat.
 */
export interface WorkerMetrics__Output {
  /**
   * Training examples and (input + target) tokens processed by this worker per second.
   */
  'samplesPerSec': (number);
  'tokensPerSec': (number);
  /**
   * Wall time of one step, split into its parts (they add up to step_ms):
   */
  'stepMs': (number);
  /**
   * forward + backward + optimizer update on this worker;
   */
  'computeMs': (number);
  /**
   * the all-reduce while it had work to do (encode, reduce, send);
   */
  'allReduceMs': (number);
  /**
   * the all-reduce while it waited for its left neighbour's chunks (stragglers show up here).
   */
  'waitingMs': (number);
  /**
   * Training loss of the last step (NaN if none yet) and the global gradient norm before clipping.
   */
  'loss': (number);
  'gradNorm': (number);
  /**
   * Steps skipped because the all-reduce reported a non-finite gradient, since the run started.
   */
  'skippedSteps': (number);
  /**
   * Resident memory of the worker process.
   */
  'rssBytes': (number);
  /**
   * Bytes held in TensorFlow.js tensors (tf.memory().numBytes) after the step.
   */
  'tensorBytes': (number);
}
