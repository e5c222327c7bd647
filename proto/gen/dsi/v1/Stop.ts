// Original file: proto/dsi/v1/coordinator.proto


export interface Stop {
  /**
   * Why: "finished", "operator", "dropped: <reason>"...
   */
  'reason'?: (string);
  /**
   * Finish the current step first (true) or stop at once (false).
   */
  'graceful'?: (boolean);
}

export interface Stop__Output {
  /**
   * Why: "finished", "operator", "dropped: <reason>"...
   */
  'reason': (string);
  /**
   * Finish the current step first (true) or stop at once (false).
   */
  'graceful': (boolean);
}
