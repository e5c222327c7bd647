// Original file: proto/dsi/v1/coordinator.proto


export interface ControlRequest {
  'runId'?: (string);
  'workerId'?: (string);
  'rank'?: (number);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret'?: (Buffer | Uint8Array | string);
}

export interface ControlRequest__Output {
  'runId': (string);
  'workerId': (string);
  'rank': (number);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret': (Buffer);
}
