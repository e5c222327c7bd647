// Original file: proto/dsi/v1/coordinator.proto


/**
 * The coordinator's plan of the run, handed to every worker at Join; both sides build the model from
 * it the same way (shared/training/cluster_plan.ts).
 */
export interface RunPlan {
  /**
   * The resolved run configuration (shared/runtime/config.ts Config) as JSON: convict's schema has
   * ~100 nested fields that change with every feature, so a proto copy of it would be a second schema
   * to keep in step by hand; the worker validates this JSON with the same convict schema instead.
   * It holds the global batch size (train.batchSize): nothing else in the contract repeats it.
   */
  'configJson'?: (string);
  /**
   * Resolved prepared-dataset folder (every worker reads examples from it).
   */
  'dataDir'?: (string);
  /**
   * Checkpoint folder to resume from; empty: a fresh start.
   */
  'resumeFrom'?: (string);
  /**
   * Dynamic loss scale to start with (from the checkpoint when resuming); 0: cluster.lossScale.
   */
  'lossScale'?: (number | string);
  /**
   * NATS server(s) workers publish telemetry to; empty: telemetry over the gRPC heartbeats only.
   */
  'natsUrl'?: (string);
}

/**
 * The coordinator's plan of the run, handed to every worker at Join; both sides build the model from
 * it the same way (shared/training/cluster_plan.ts).
 */
export interface RunPlan__Output {
  /**
   * The resolved run configuration (shared/runtime/config.ts Config) as JSON: convict's schema has
   * ~100 nested fields that change with every feature, so a proto copy of it would be a second schema
   * to keep in step by hand; the worker validates this JSON with the same convict schema instead.
   * It holds the global batch size (train.batchSize): nothing else in the contract repeats it.
   */
  'configJson': (string);
  /**
   * Resolved prepared-dataset folder (every worker reads examples from it).
   */
  'dataDir': (string);
  /**
   * Checkpoint folder to resume from; empty: a fresh start.
   */
  'resumeFrom': (string);
  /**
   * Dynamic loss scale to start with (from the checkpoint when resuming); 0: cluster.lossScale.
   */
  'lossScale': (number);
  /**
   * NATS server(s) workers publish telemetry to; empty: telemetry over the gRPC heartbeats only.
   */
  'natsUrl': (string);
}
