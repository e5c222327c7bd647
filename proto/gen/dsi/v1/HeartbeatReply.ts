// Original file: proto/dsi/v1/coordinator.proto


export interface HeartbeatReply {
  /**
   * Latest ring epoch the coordinator knows; a worker behind it should expect a RingFormation.
   */
  'ringEpoch'?: (number);
}

export interface HeartbeatReply__Output {
  /**
   * Latest ring epoch the coordinator knows; a worker behind it should expect a RingFormation.
   */
  'ringEpoch': (number);
}
