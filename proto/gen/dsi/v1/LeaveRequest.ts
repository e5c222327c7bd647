// Original file: proto/dsi/v1/coordinator.proto


export interface LeaveRequest {
  'runId'?: (string);
  'workerId'?: (string);
  'reason'?: (string);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret'?: (Buffer | Uint8Array | string);
}

export interface LeaveRequest__Output {
  'runId': (string);
  'workerId': (string);
  'reason': (string);
  /**
   * JoinReply.member_secret.
   */
  'memberSecret': (Buffer);
}
