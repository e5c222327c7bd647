// Original file: proto/dsi/v1/coordinator.proto

export const StepPhase = {
  STEP_PHASE_IDLE: 'STEP_PHASE_IDLE',
  /**
   * forward + backward on the compute thread
   */
  STEP_PHASE_COMPUTE: 'STEP_PHASE_COMPUTE',
  /**
   * the gradient's all-reduce on the ring
   */
  STEP_PHASE_REDUCE: 'STEP_PHASE_REDUCE',
  /**
   * clipping + AdamW on the compute thread
   */
  STEP_PHASE_OPTIMIZER: 'STEP_PHASE_OPTIMIZER',
} as const;

export type StepPhase =
  | 'STEP_PHASE_IDLE'
  | 0
  /**
   * forward + backward on the compute thread
   */
  | 'STEP_PHASE_COMPUTE'
  | 1
  /**
   * the gradient's all-reduce on the ring
   */
  | 'STEP_PHASE_REDUCE'
  | 2
  /**
   * clipping + AdamW on the compute thread
   */
  | 'STEP_PHASE_OPTIMIZER'
  | 3

export type StepPhase__Output = typeof StepPhase[keyof typeof StepPhase]
