// Original file: proto/dsi/v1/coordinator.proto

import type { StopCause as _dsi_v1_StopCause, StopCause__Output as _dsi_v1_StopCause__Output } from '../../dsi/v1/StopCause.js';

export interface Stop {
  /**
   * Why, for people: "finished", "operator", "dropped: <reason>"...
   */
  'reason'?: (string);
  /**
   * Finish the current step first (true) or stop at once (false).
   */
  'graceful'?: (boolean);
  /**
   * Why, for the worker's exit code.
   */
  'cause'?: (_dsi_v1_StopCause);
}

export interface Stop__Output {
  /**
   * Why, for people: "finished", "operator", "dropped: <reason>"...
   */
  'reason': (string);
  /**
   * Finish the current step first (true) or stop at once (false).
   */
  'graceful': (boolean);
  /**
   * Why, for the worker's exit code.
   */
  'cause': (_dsi_v1_StopCause__Output);
}
