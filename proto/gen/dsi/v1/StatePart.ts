// Original file: proto/dsi/v1/coordinator.proto

/**
 * Which part of the worker state a StateChunk belongs to.
 */
export const StatePart = {
  STATE_PART_UNSPECIFIED: 'STATE_PART_UNSPECIFIED',
  STATE_PART_WEIGHTS: 'STATE_PART_WEIGHTS',
  /**
   * AdamW first and second moments, named "<weight>/m" and "<weight>/v".
   */
  STATE_PART_OPTIMIZER: 'STATE_PART_OPTIMIZER',
  /**
   * JSON: {"adamT": ..., "lossScale": {"scale": ..., "goodSteps": ...}} in `data`, tensor_name empty.
   */
  STATE_PART_WORKER: 'STATE_PART_WORKER',
} as const;

/**
 * Which part of the worker state a StateChunk belongs to.
 */
export type StatePart =
  | 'STATE_PART_UNSPECIFIED'
  | 0
  | 'STATE_PART_WEIGHTS'
  | 1
  /**
   * AdamW first and second moments, named "<weight>/m" and "<weight>/v".
   */
  | 'STATE_PART_OPTIMIZER'
  | 2
  /**
   * JSON: {"adamT": ..., "lossScale": {"scale": ..., "goodSteps": ...}} in `data`, tensor_name empty.
   */
  | 'STATE_PART_WORKER'
  | 3

/**
 * Which part of the worker state a StateChunk belongs to.
 */
export type StatePart__Output = typeof StatePart[keyof typeof StatePart]
