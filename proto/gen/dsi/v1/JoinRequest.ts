// Original file: proto/dsi/v1/coordinator.proto


export interface JoinRequest {
  /**
   * Stable name of the worker process, unique in the run (e.g. "host-a/worker-3").
   */
  'workerId'?: (string);
  /**
   * host:port of this worker's Collective server, reachable by the other workers.
   */
  'address'?: (string);
  /**
   * Hex SHA-256 of the resolved model config (preset, shapes, vocab); must equal the run's, or the
   * fused gradient buffers would not line up.
   */
  'modelConfigHash'?: (string);
  /**
   * TensorFlow.js backend the worker runs (tensorflow, wasm, cpu...), for the run summary.
   */
  'backend'?: (string);
  /**
   * Version of this contract the worker speaks; the coordinator refuses others.
   */
  'protocolVersion'?: (number);
  /**
   * The run's join token (--join-token-file), when the coordinator has one: a Join without the right
   * one is refused (JOIN_REFUSAL_UNAUTHENTICATED) before anything else is checked or told.
   */
  'joinToken'?: (string);
}

export interface JoinRequest__Output {
  /**
   * Stable name of the worker process, unique in the run (e.g. "host-a/worker-3").
   */
  'workerId': (string);
  /**
   * host:port of this worker's Collective server, reachable by the other workers.
   */
  'address': (string);
  /**
   * Hex SHA-256 of the resolved model config (preset, shapes, vocab); must equal the run's, or the
   * fused gradient buffers would not line up.
   */
  'modelConfigHash': (string);
  /**
   * TensorFlow.js backend the worker runs (tensorflow, wasm, cpu...), for the run summary.
   */
  'backend': (string);
  /**
   * Version of this contract the worker speaks; the coordinator refuses others.
   */
  'protocolVersion': (number);
  /**
   * The run's join token (--join-token-file), when the coordinator has one: a Join without the right
   * one is refused (JOIN_REFUSAL_UNAUTHENTICATED) before anything else is checked or told.
   */
  'joinToken': (string);
}
