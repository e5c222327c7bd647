// Original file: proto/dsi/v1/coordinator.proto

import type { StepPhase as _dsi_v1_StepPhase, StepPhase__Output as _dsi_v1_StepPhase__Output } from '../../dsi/v1/StepPhase.js';

/**
 * "computing step 12 for 8400 ms": the phase of the step in flight and how long it has been in it.
 */
export interface StepProgress {
  /**
   * 1-based step in flight; with STEP_PHASE_IDLE the last step done.
   */
  'step'?: (number);
  'phase'?: (_dsi_v1_StepPhase);
  /**
   * Time in the phase so far.
   */
  'elapsedMs'?: (number);
}

/**
 * "computing step 12 for 8400 ms": the phase of the step in flight and how long it has been in it.
 */
export interface StepProgress__Output {
  /**
   * 1-based step in flight; with STEP_PHASE_IDLE the last step done.
   */
  'step': (number);
  'phase': (_dsi_v1_StepPhase__Output);
  /**
   * Time in the phase so far.
   */
  'elapsedMs': (number);
}
