// Original file: proto/dsi/v1/coordinator.proto


/**
 * Run steps first_step .. first_step+count-1 back to back, then wait for the next StartSteps.
 * All ranks receive the same values, so they enter the same all-reduces in the same order.
 */
export interface StartSteps {
  'firstStep'?: (number);
  'count'?: (number);
  /**
   * Ring epoch these steps run on (the latest RingFormation sent before this message).
   */
  'ringEpoch'?: (number);
}

/**
 * Run steps first_step .. first_step+count-1 back to back, then wait for the next StartSteps.
 * All ranks receive the same values, so they enter the same all-reduces in the same order.
 */
export interface StartSteps__Output {
  'firstStep': (number);
  'count': (number);
  /**
   * Ring epoch these steps run on (the latest RingFormation sent before this message).
   */
  'ringEpoch': (number);
}
