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
  /**
   * Telemetry (shared/runtime/telemetry/payloads.ts StepTelemetry, the same figures as on NATS): compute_ms
   * split into reading examples, forward + backward and the optimizer update;
   */
  'dataMs'?: (number | string);
  'forwardBackwardMs'?: (number | string);
  'optimizerMs'?: (number | string);
  /**
   * wall clock when the step began, Unix milliseconds (for the timeline);
   */
  'startedAtMs'?: (number | string);
  /**
   * examples and tokens trained on in the step, all-reduce bytes sent;
   */
  'samples'?: (number);
  'tokens'?: (number);
  'bytesSent'?: (number | string);
  /**
   * share of zero prunable weights once pruning masks apply, -1 before.
   */
  'sparsity'?: (number | string);
  /**
   * Connections this worker refused since it started: failed TLS handshakes (gRPC and raw-TCP port),
   * and ring connections or port lookups without the ring's secret, malformed or too many.
   */
  'refusedTlsHandshakes'?: (number);
  'refusedRingConnections'?: (number);
  /**
   * Global position of the first example this worker trained on in the step; its share of the
   * global batch is contiguous (first_position .. first_position + samples). The coordinator keeps
   * these per applied step, with the checkpoints, to show no example was lost or repeated.
   */
  'firstPosition'?: (number | string);
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
  /**
   * Telemetry (shared/runtime/telemetry/payloads.ts StepTelemetry, the same figures as on NATS): compute_ms
   * split into reading examples, forward + backward and the optimizer update;
   */
  'dataMs': (number);
  'forwardBackwardMs': (number);
  'optimizerMs': (number);
  /**
   * wall clock when the step began, Unix milliseconds (for the timeline);
   */
  'startedAtMs': (number);
  /**
   * examples and tokens trained on in the step, all-reduce bytes sent;
   */
  'samples': (number);
  'tokens': (number);
  'bytesSent': (number);
  /**
   * share of zero prunable weights once pruning masks apply, -1 before.
   */
  'sparsity': (number);
  /**
   * Connections this worker refused since it started: failed TLS handshakes (gRPC and raw-TCP port),
   * and ring connections or port lookups without the ring's secret, malformed or too many.
   */
  'refusedTlsHandshakes': (number);
  'refusedRingConnections': (number);
  /**
   * Global position of the first example this worker trained on in the step; its share of the
   * global batch is contiguous (first_position .. first_position + samples). The coordinator keeps
   * these per applied step, with the checkpoints, to show no example was lost or repeated.
   */
  'firstPosition': (number);
}
