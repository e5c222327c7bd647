// Original file: proto/dsi/v1/coordinator.proto


export interface LeaveRequest {
  'runId'?: (string);
  'workerId'?: (string);
  'reason'?: (string);
}

export interface LeaveRequest__Output {
  'runId': (string);
  'workerId': (string);
  'reason': (string);
}
